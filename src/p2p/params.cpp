// Network parameters: what every node of one share chain must agree on.
#include "crypto/sha256.h"
#include "p2p/p2p.h"

namespace otedama::p2p {

Hash256 ChainParams::id() const {
  Bytes b = chain::to_bytes("otedama-p2p/1/");
  b.insert(b.end(), name.begin(), name.end());
  b.push_back(0);
  chain::append_le32(b, uint32_t(coin));
  chain::append_le32(b, uint32_t(network));
  chain::append_le32(b, share_time);
  chain::append_le32(b, window);
  chain::append_le32(b, retarget_span);
  chain::append_le32(b, max_target_bits);
  chain::append_le32(b, block_shift);
  chain::append_le32(b, fee_ppm);
  chain::append_le64(b, uint64_t(min_output));
  chain::append_le32(b, max_outputs);
  chain::append_le32(b, max_future_seconds);
  return crypto::sha256d(b);
}

void ChainParams::validate() const {
  auto bad = [&](const std::string& why) { throw std::invalid_argument("p2p network '" + name + "': " + why); };
  if (name.empty()) bad("empty name");
  if (share_time == 0) bad("share_time must be at least 1 s");
  if (window == 0) bad("the window must hold at least one share");
  if (max_outputs < 2) bad("max_outputs must be at least 2");
  // Every share in the window has the chain's difficulty, so a window of N shares has at most N
  // payees: with N <= max_outputs - 1 (one output for the fee) the cap can never bind.
  if (window > max_outputs - 1) bad("window (" + std::to_string(window) + ") must be below max_outputs (" +
                                    std::to_string(max_outputs) + ")");
  if (retarget_span == 0) bad("retarget_span must be at least 1");
  if (U256::from_compact(max_target_bits).is_zero()) bad("max_target_bits encodes no target");
  if (block_shift > 32) bad("block_shift above 32");
  if (fee_ppm > 1'000'000) bad("fee above 100 %");
  if (min_output < 0) bad("negative min_output");
}

ChainParams ChainParams::for_network(chain::Coin coin, chain::Network network, const std::string& name,
                                     uint32_t share_time_seconds) {
  ChainParams p;
  p.name = name;
  p.coin = coin;
  p.network = network;
  p.share_time = share_time_seconds;
  if (network == chain::Network::regtest) {
    // Test networks: a low share floor (1024 expected hashes: a CPU miner finds several shares
    // a second, while its Stratum pseudo-shares stay a sane rate), a short
    // window so payouts move quickly, and one share in 4 a block (block_shift 2) so that the
    // share-that-is-not-a-block path is exercised as well (regtest's own target is trivial).
    p.max_target_bits = 0x1f400000;  // 2^246
    p.window = 200;
    p.retarget_span = 10;
    p.min_output = 1000;
    if (name != "regtest-all-blocks") p.block_shift = 2;
  } else if (name == "mini") {
    p.max_target_bits = coin == chain::Coin::litecoin ? 0x1f00ffff : 0x1d00ffff;
    p.window = 2160;
  } else {
    p.max_target_bits = coin == chain::Coin::litecoin ? 0x1e0fffff : 0x1c00ffff;
    p.window = 2160;
  }
  return p;
}

}  // namespace otedama::p2p
