// Test helper: mines shares on a ShareChain the way a node's Stratum job would (coinbase with
// the chain's payouts and commitment, PoW under the share target).
#pragma once

#include "chain/chain.h"
#include "crypto/scrypt.h"
#include "crypto/sha256.h"
#include "p2p/p2p.h"

namespace otedama::p2p::testing {

struct FakeTemplate {
  uint32_t height = 200;
  int64_t reward = 5'000'000'000;
  uint32_t coin_bits = 0x207fffff;  // regtest: every share meets it
  Hash256 prev{};
};

inline U256 pow_of(const ShareChain& c, const chain::Header80& h) {
  Hash256 v = c.params().coin == chain::Coin::litecoin ? crypto::scrypt_1024_1_1(h) : crypto::sha256d(h);
  return U256::from_le_bytes(v.data());
}

// A share on `parent` paying the chain's window, mined so that its PoW meets (want_valid) or
// misses the share target. `tweak` may change the share before mining (to make it invalid).
inline Share mine_share(const ShareChain& c, const ShareEntry* parent, const Bytes& script, uint32_t time,
                        const FakeTemplate& t = {}, bool want_valid = true,
                        const std::function<void(std::vector<chain::TxOut>&)>& tweak_payouts = nullptr) {
  Share s;
  s.info.prev_share = parent ? parent->hash : Hash256{};
  s.info.height = parent ? parent->share.info.height + 1 : 0;
  s.info.bits = c.next_bits(parent);
  s.info.time = time;
  s.info.payout_script = script;
  if (c.params().fee_ppm) s.info.fee_script = chain::to_bytes("\x00\x14" "feefeefeefeefeefeefe");
  s.coin_height = t.height;
  s.reward = t.reward;
  s.extranonce = Bytes(12, 0);
  s.extranonce[0] = uint8_t(time), s.extranonce[1] = uint8_t(time >> 8), s.extranonce[2] = uint8_t(s.info.height);
  auto payouts = c.expected_payouts(parent, s.info, s.reward);
  if (tweak_payouts) tweak_payouts(payouts);
  auto opts = share_coinbase_options(s.info, payouts, c.network_id(), 4, 8);
  auto cb = chain::build_coinbase(s.coin_height, s.reward, s.witness_commitment, opts);
  Bytes tx = cb.assemble(ByteSpan(s.extranonce).first(4), ByteSpan(s.extranonce).subspan(4));
  s.header.version = 0x20000000;
  s.header.prev_hash = t.prev;
  s.header.merkle_root = crypto::sha256d(tx);
  s.header.time = time;
  s.header.bits = t.coin_bits;
  U256 target = U256::from_compact(s.info.bits);
  for (uint32_t n = 0;; ++n) {
    s.header.nonce = n;
    bool ok = pow_of(c, s.header.serialize()) <= target;
    if (ok == want_valid) break;
  }
  return s;
}

// A P2WPKH script for a number.
inline Bytes script_for(uint32_t i) {
  Bytes s = {0x00, 0x14};
  for (int k = 0; k < 20; ++k) s.push_back(uint8_t((i >> (8 * (k % 4))) + k));
  return s;
}

}  // namespace otedama::p2p::testing
