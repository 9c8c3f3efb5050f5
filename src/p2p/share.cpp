// Shares: targets and work, the wire/disk serialization, the coinbase commitment.
#include <cstring>

#include "crypto/sha256.h"
#include "p2p/p2p.h"

namespace otedama::p2p {

namespace {

// ---- 256-bit helpers the share chain needs beyond core's U256 --------------------------------

U256 add(const U256& a, const U256& b) {
  U256 r;
  unsigned __int128 carry = 0;
  for (int i = 0; i < 4; ++i) {
    carry += (unsigned __int128)a.w[i] + b.w[i];
    r.w[i] = uint64_t(carry);
    carry >>= 64;
  }
  return r;
}

U256 sub(const U256& a, const U256& b) {  // a >= b
  U256 r;
  uint64_t borrow = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned __int128 d = (unsigned __int128)a.w[i] - b.w[i] - borrow;
    r.w[i] = uint64_t(d);
    borrow = (d >> 64) ? 1 : 0;
  }
  return r;
}

// floor(n / d) by restoring long division; d > 0.
U256 divide(const U256& n, const U256& d) {
  U256 q, r;
  for (int i = 255; i >= 0; --i) {
    bool overflow = r.w[3] >> 63;
    r = r << 1;
    if ((n.w[i / 64] >> (i % 64)) & 1) r.w[0] |= 1;
    if (overflow || r >= d) {
      r = sub(r, d);
      q.w[i / 64] |= 1ull << (i % 64);
    }
  }
  return q;
}

U256 from_work(Work w) {
  U256 r;
  r.w[0] = uint64_t(w);
  r.w[1] = uint64_t(w >> 64);
  return r;
}

constexpr Work kMaxWork = Work(1) << 127;

// ---- bounded reader ----------------------------------------------------------------------------

struct Reader {
  ByteSpan b;
  size_t pos = 0;
  void need(size_t n) const {
    if (b.size() - pos < n) throw std::invalid_argument("share: truncated");
  }
  uint8_t u8() {
    need(1);
    return b[pos++];
  }
  uint32_t le32() {
    need(4);
    uint32_t v = uint32_t(b[pos]) | uint32_t(b[pos + 1]) << 8 | uint32_t(b[pos + 2]) << 16 | uint32_t(b[pos + 3]) << 24;
    pos += 4;
    return v;
  }
  uint64_t le64() {
    uint64_t lo = le32();
    return lo | uint64_t(le32()) << 32;
  }
  uint64_t varint() {
    uint8_t f = u8();
    if (f < 0xfd) return f;
    if (f == 0xfd) {
      need(2);
      uint64_t v = b[pos] | uint64_t(b[pos + 1]) << 8;
      pos += 2;
      return v;
    }
    if (f == 0xfe) return le32();
    return le64();
  }
  Hash256 hash() {
    need(32);
    Hash256 h;
    std::memcpy(h.data(), b.data() + pos, 32);
    pos += 32;
    return h;
  }
  Bytes bytes(size_t max, const char* what) {
    uint64_t n = varint();
    if (n > max) throw std::invalid_argument(std::string("share: ") + what + " is " + std::to_string(n) +
                                             " bytes, at most " + std::to_string(max));
    need(n);
    Bytes out(b.begin() + pos, b.begin() + pos + n);
    pos += n;
    return out;
  }
};

void append_bytes(Bytes& out, ByteSpan b) {
  chain::append_varint(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

constexpr size_t kMaxScript = 100;
constexpr size_t kMaxExtranonce = 64;
constexpr size_t kMaxBranch = 32;
constexpr size_t kMaxTransactions = 100000;
constexpr size_t kMaxBlockBytes = 8u << 20;
constexpr int64_t kMaxReward = int64_t(84'000'000) * 100'000'000;

}  // namespace

// ---- targets and work ----------------------------------------------------------------------------

Work work_from_target(const U256& target) {
  if (target == U256::max()) return 1;
  U256 d = add(target, U256::from_u64(1));
  U256 not_t = sub(U256::max(), target);
  U256 q = add(divide(not_t, d), U256::from_u64(1));  // floor(2^256 / (t + 1)), as Core's GetBlockProof
  if (q.w[2] | q.w[3] || (q.w[1] >> 63)) return kMaxWork;
  return Work(q.w[0]) | Work(q.w[1]) << 64;
}

U256 target_from_work(Work work) {
  if (work <= 1) return U256::max();
  return divide(U256::max(), from_work(work));
}

uint32_t to_compact(const U256& target) {
  int size = (target.bits() + 7) / 8;
  uint32_t compact;
  if (size <= 3) compact = uint32_t(target.w[0] << (8 * (3 - size)));
  else compact = uint32_t((target >> unsigned(8 * (size - 3))).w[0]);
  if (compact & 0x00800000) {
    compact >>= 8;
    ++size;
  }
  return compact | uint32_t(size) << 24;
}

// ---- serialization -------------------------------------------------------------------------------

Bytes serialize_share_info(const ShareInfo& info) {
  Bytes out;
  out.reserve(96 + info.payout_script.size() + info.fee_script.size());
  chain::append_le32(out, info.version);
  out.insert(out.end(), info.prev_share.begin(), info.prev_share.end());
  chain::append_le64(out, info.height);
  chain::append_le32(out, info.bits);
  chain::append_le32(out, info.time);
  append_bytes(out, info.payout_script);
  append_bytes(out, info.fee_script);
  return out;
}

Bytes serialize_share(const Share& s) {
  Bytes out = serialize_share_info(s.info);
  auto h = s.header.serialize();
  out.insert(out.end(), h.begin(), h.end());
  chain::append_le32(out, s.coin_height);
  chain::append_le64(out, uint64_t(s.reward));
  append_bytes(out, s.extranonce);
  out.push_back(s.witness_commitment ? 1 : 0);
  if (s.witness_commitment) append_bytes(out, *s.witness_commitment);
  chain::append_varint(out, s.merkle_branch.size());
  for (const auto& b : s.merkle_branch) out.insert(out.end(), b.begin(), b.end());
  if (s.txids.size() != s.transactions.size()) throw std::invalid_argument("share: txids and transactions differ in number");
  chain::append_varint(out, s.transactions.size());
  for (size_t i = 0; i < s.transactions.size(); ++i) {
    out.insert(out.end(), s.txids[i].begin(), s.txids[i].end());
    append_bytes(out, s.transactions[i]);
  }
  out.push_back(s.mweb ? 1 : 0);
  if (s.mweb) append_bytes(out, *s.mweb);
  return out;
}

Share parse_share(ByteSpan bytes) {
  Reader r{bytes};
  Share s;
  s.info.version = r.le32();
  s.info.prev_share = r.hash();
  s.info.height = r.le64();
  s.info.bits = r.le32();
  s.info.time = r.le32();
  s.info.payout_script = r.bytes(kMaxScript, "payout script");
  if (s.info.payout_script.empty()) throw std::invalid_argument("share: empty payout script");
  s.info.fee_script = r.bytes(kMaxScript, "fee script");
  r.need(80);
  s.header = chain::BlockHeader::parse(bytes.subspan(r.pos, 80));
  r.pos += 80;
  s.coin_height = r.le32();
  uint64_t reward = r.le64();
  if (reward > uint64_t(kMaxReward)) throw std::invalid_argument("share: reward out of range");
  s.reward = int64_t(reward);
  s.extranonce = r.bytes(kMaxExtranonce, "extranonce");
  uint8_t has_wc = r.u8();
  if (has_wc > 1) throw std::invalid_argument("share: bad witness commitment flag");
  if (has_wc) s.witness_commitment = r.bytes(80, "witness commitment");
  uint64_t nb = r.varint();
  if (nb > kMaxBranch) throw std::invalid_argument("share: merkle branch too long");
  s.merkle_branch.reserve(nb);
  for (uint64_t i = 0; i < nb; ++i) s.merkle_branch.push_back(r.hash());
  uint64_t nt = r.varint();
  if (nt > kMaxTransactions) throw std::invalid_argument("share: too many transactions");
  size_t total = 0;
  for (uint64_t i = 0; i < nt; ++i) {
    s.txids.push_back(r.hash());
    s.transactions.push_back(r.bytes(kMaxBlockBytes, "transaction"));
    total += s.transactions.back().size();
    if (total > kMaxBlockBytes) throw std::invalid_argument("share: block transactions too large");
  }
  uint8_t has_mweb = r.u8();
  if (has_mweb > 1) throw std::invalid_argument("share: bad mweb flag");
  if (has_mweb) s.mweb = r.bytes(kMaxBlockBytes, "mweb block");
  if (r.pos != bytes.size()) throw std::invalid_argument("share: trailing bytes");
  return s;
}

Hash256 Share::hash() const { return chain::block_hash(header.serialize()); }

// ---- the coinbase --------------------------------------------------------------------------------

Bytes commitment_script(const ShareInfo& info, const Hash256& network_id) {
  Bytes data = serialize_share_info(info);
  data.insert(data.end(), network_id.begin(), network_id.end());
  Hash256 h = crypto::sha256d(data);
  Bytes script = {0x6a, 0x24, 'O', 'T', 'D', 'M'};
  script.insert(script.end(), h.begin(), h.end());
  return script;
}

chain::CoinbaseOptions share_coinbase_options(const ShareInfo& info, std::span<const chain::TxOut> payouts,
                                              const Hash256& network_id, size_t extranonce1_size,
                                              size_t extranonce2_size) {
  chain::CoinbaseOptions o;
  o.outputs.assign(payouts.begin(), payouts.end());
  o.outputs.push_back({0, commitment_script(info, network_id)});
  o.tag = chain::to_bytes(kCoinbaseTag);
  o.extranonce1_size = extranonce1_size;
  o.extranonce2_size = extranonce2_size;
  return o;
}

Bytes share_coinbase(const Share& share, std::span<const chain::TxOut> payouts, const Hash256& network_id) {
  if (share.extranonce.size() > kMaxExtranonce) throw std::invalid_argument("share: extranonce too long");
  // The split between extranonce1 and extranonce2 does not change the bytes.
  size_t en1 = std::min<size_t>(share.extranonce.size(), 32);
  auto options = share_coinbase_options(share.info, payouts, network_id, en1, share.extranonce.size() - en1);
  auto cb = chain::build_coinbase(share.coin_height, share.reward, share.witness_commitment, options);
  return cb.assemble(ByteSpan(share.extranonce).first(en1), ByteSpan(share.extranonce).subspan(en1));
}

}  // namespace otedama::p2p
