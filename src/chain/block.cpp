// 80-byte headers, Stratum jobs and full blocks for submitblock.
#include "chain/chain.h"

#include <algorithm>
#include <cstring>

#include "crypto/sha256.h"

namespace otedama::chain {

namespace {

void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

Header80 BlockHeader::serialize() const {
  Header80 h{};
  put_le32(h.data(), uint32_t(version));
  std::memcpy(h.data() + 4, prev_hash.data(), 32);
  std::memcpy(h.data() + 36, merkle_root.data(), 32);
  put_le32(h.data() + 68, time);
  put_le32(h.data() + 72, bits);
  put_le32(h.data() + 76, nonce);
  return h;
}

BlockHeader BlockHeader::parse(ByteSpan b) {
  if (b.size() != 80) throw std::invalid_argument("a block header is 80 bytes, not " + std::to_string(b.size()));
  BlockHeader h;
  h.version = int32_t(get_le32(b.data()));
  std::memcpy(h.prev_hash.data(), b.data() + 4, 32);
  std::memcpy(h.merkle_root.data(), b.data() + 36, 32);
  h.time = get_le32(b.data() + 68);
  h.bits = get_le32(b.data() + 72);
  h.nonce = get_le32(b.data() + 76);
  return h;
}

Hash256 block_hash(const Header80& header) { return crypto::sha256d(header); }

Job make_job(const BlockTemplate& tpl, const CoinbaseOptions& options) {
  Job job;
  job.height = tpl.height;
  job.version = tpl.version;
  job.prev_hash = tpl.prev_hash;
  job.bits = tpl.bits;
  job.ntime = std::max(tpl.curtime, tpl.mintime);
  job.target = tpl.target;
  job.coinbase = build_coinbase(tpl, options);
  auto txids = tpl.txids();
  job.merkle_branch = merkle_branch(txids);
  return job;
}

Header80 job_header(const Job& job, ByteSpan extranonce1, ByteSpan extranonce2, uint32_t ntime, uint32_t nonce,
                    int32_t version) {
  BlockHeader h;
  h.version = version;
  h.prev_hash = job.prev_hash;
  h.merkle_root = merkle_root_from_branch(job.coinbase.txid(extranonce1, extranonce2), job.merkle_branch);
  h.time = ntime;
  h.bits = job.bits;
  h.nonce = nonce;
  return h.serialize();
}

Bytes serialize_block(const BlockTemplate& tpl, const Header80& header, ByteSpan coinbase_tx) {
  size_t size = 80 + 9 + coinbase_tx.size() + (tpl.mweb ? 1 + tpl.mweb->size() : 0);
  for (const auto& t : tpl.transactions) size += t.data.size();
  Bytes block;
  block.reserve(size);
  block.insert(block.end(), header.begin(), header.end());
  append_varint(block, 1 + tpl.transactions.size());
  block.insert(block.end(), coinbase_tx.begin(), coinbase_tx.end());
  for (const auto& t : tpl.transactions) block.insert(block.end(), t.data.begin(), t.data.end());
  if (tpl.mweb) {
    block.push_back(0x01);  // OptionalPtr<mw::Block>: present
    block.insert(block.end(), tpl.mweb->begin(), tpl.mweb->end());
  }
  return block;
}

}  // namespace otedama::chain
