// Bitcoin merkle trees: the root, and the Stratum branch for the coinbase (leaf 0).
#include "chain/chain.h"

#include <cstring>

#include "crypto/sha256.h"

namespace otedama::chain {

namespace {

Hash256 hash_pair(const Hash256& a, const Hash256& b) {
  uint8_t buf[64];
  std::memcpy(buf, a.data(), 32);
  std::memcpy(buf + 32, b.data(), 32);
  return crypto::sha256d(ByteSpan(buf, 64));
}

}  // namespace

Hash256 merkle_root(std::span<const Hash256> leaves) {
  if (leaves.empty()) throw std::invalid_argument("merkle_root of no leaves");
  std::vector<Hash256> level(leaves.begin(), leaves.end());
  while (level.size() > 1) {
    if (level.size() % 2) level.push_back(level.back());
    for (size_t i = 0; i < level.size() / 2; ++i) level[i] = hash_pair(level[2 * i], level[2 * i + 1]);
    level.resize(level.size() / 2);
  }
  return level[0];
}

std::vector<Hash256> merkle_branch(std::span<const Hash256> txids_after_coinbase) {
  // Level by level, leaving out the (unknown) coinbase path at index 0: its sibling is a
  // branch step; the rest pair up as usual.
  std::vector<Hash256> branch;
  std::vector<Hash256> level(txids_after_coinbase.begin(), txids_after_coinbase.end());  // indexes 1..n
  while (!level.empty()) {
    branch.push_back(level[0]);
    // Remaining nodes at indexes 2..n of this level; odd count (with index 0) -> duplicate the last.
    std::vector<Hash256> next;
    next.reserve(level.size() / 2);
    size_t i = 1;
    for (; i + 1 < level.size(); i += 2) next.push_back(hash_pair(level[i], level[i + 1]));
    if (i < level.size()) next.push_back(hash_pair(level[i], level[i]));
    level = std::move(next);
  }
  return branch;
}

Hash256 merkle_root_from_branch(const Hash256& coinbase_txid, std::span<const Hash256> branch) {
  Hash256 h = coinbase_txid;
  for (const auto& step : branch) h = hash_pair(h, step);
  return h;
}

}  // namespace otedama::chain
