#include "pool/block_status.h"

#include <spdlog/spdlog.h>

#include "accounting/accounting.h"
#include "chain/chain.h"
#include "chain/monero.h"

namespace otedama::pool {

BlockLookup bitcoin_block_lookup(std::shared_ptr<chain::RpcClient> rpc) {
  return [rpc](const std::string& hash) {
    ChainBlockState s;
    nlohmann::json b;
    try {
      b = rpc->call("getblock", {hash, 1});
    } catch (const chain::RpcError& e) {
      if (e.code == -5) return s;  // "Block not found"
      throw;
    }
    s.known = true;
    int64_t c = b.at("confirmations").get<int64_t>();
    s.in_main_chain = c >= 0;
    s.confirmations = std::max<int64_t>(c, 0);
    return s;
  };
}

BlockLookup monero_block_lookup(std::shared_ptr<chain::monero::RpcClient> rpc) {
  return [rpc](const std::string& hash) {
    ChainBlockState s;
    chain::monero::BlockHeader h;
    Hash256 id;
    try {
      id = hash_from_hex(hash);
    } catch (const std::invalid_argument&) {
      return s;  // not a Monero block id: no daemon knows it
    }
    try {
      h = rpc->get_block_header_by_hash(id);
    } catch (const chain::RpcError&) {
      return s;  // monerod answers an unknown hash with an error object
    }
    s.known = true;
    s.in_main_chain = !h.orphan;
    s.confirmations = s.in_main_chain ? int64_t(h.depth) + 1 : 0;
    return s;
  };
}

BlockStatusPass update_block_status(store::Store& store, const std::string& coin, const BlockLookup& lookup,
                                    int64_t now_ms, int64_t unknown_grace_ms) {
  BlockStatusPass pass;
  uint32_t maturity = accounting::coinbase_maturity(coin);
  for (const auto& b : store.blocks(coin, store::BlockStatus::pending, 10'000)) {
    ChainBlockState s;
    try {
      s = lookup(b.hash);
    } catch (const chain::ChainError& e) {
      pass.error = e.what();
      return pass;  // the daemon is down: nothing changes until it answers
    }
    ++pass.checked;
    if (!s.known) {
      if (now_ms - b.time_ms < unknown_grace_ms) continue;
      store.orphan_block(coin, b.hash, "the daemon does not know the block");
      spdlog::warn("accounting {}: block {} at height {} unknown to the daemon: orphaned, credits reversed", coin,
                   b.hash, b.height);
      ++pass.orphaned;
      continue;
    }
    switch (accounting::block_status(s.in_main_chain, s.confirmations, maturity)) {
      case accounting::BlockStatus::orphaned:
        store.orphan_block(coin, b.hash, "no longer on the daemon's main chain");
        spdlog::warn("accounting {}: block {} at height {} orphaned, credits reversed", coin, b.hash, b.height);
        ++pass.orphaned;
        break;
      case accounting::BlockStatus::confirmed:
        store.confirm_block(coin, b.hash, s.confirmations);
        spdlog::info("accounting {}: block {} at height {} matured ({} confirmations), credits payable", coin, b.hash,
                     b.height, s.confirmations);
        ++pass.confirmed;
        break;
      case accounting::BlockStatus::pending:
        if (s.confirmations != b.confirmations) store.set_block_confirmations(coin, b.hash, s.confirmations);
        break;
    }
  }
  return pass;
}

}  // namespace otedama::pool
