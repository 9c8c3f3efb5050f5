// The share chain: verification of every share, the heaviest tip, orphans, locators.
#include <algorithm>

#include "crypto/scrypt.h"
#include "crypto/sha256.h"
#include "p2p/p2p.h"

namespace otedama::p2p {

namespace {

constexpr size_t kMaxOrphans = 1000;

const ShareEntry* ancestor(const ShareEntry* e, uint64_t back) {
  while (e && back--) e = e->parent;
  return e;
}

}  // namespace

U256 header_pow(chain::Coin coin, const chain::BlockHeader& header) {
  auto bytes = header.serialize();
  Hash256 h = coin == chain::Coin::litecoin ? crypto::scrypt_1024_1_1(bytes) : crypto::sha256d(bytes);
  return U256::from_le_bytes(h.data());
}

ShareChain::ShareChain(ChainParams params) : params_(std::move(params)) {
  params_.validate();
  network_id_ = params_.id();
  max_target_ = U256::from_compact(params_.max_target_bits);
}

const ShareEntry* ShareChain::find(const Hash256& hash) const {
  auto it = entries_.find(hash);
  return it == entries_.end() ? nullptr : it->second.get();
}

uint32_t ShareChain::next_bits(const ShareEntry* parent) const {
  if (!parent) return to_compact(max_target_);
  uint64_t k = std::min<uint64_t>(params_.retarget_span, parent->share.info.height);
  if (k == 0) return parent->share.info.bits;
  const ShareEntry* a = ancestor(parent, k);
  Work work = parent->chain_work - a->chain_work;  // the k shares after `a`, up to the parent
  int64_t span = std::max<int64_t>(1, int64_t(parent->share.info.time) - int64_t(a->share.info.time));
  // work per second x share_time, without overflowing 128 bits.
  Work desired = (work / Work(span)) * params_.share_time + (work % Work(span)) * params_.share_time / Work(span);
  // At most 10 % per share either way, so a burst of timestamps cannot swing the target.
  Work lo = parent->work - parent->work / 10, hi = parent->work + std::max<Work>(1, parent->work / 10);
  desired = std::clamp(desired, lo, hi);
  desired = std::max(desired, work_from_target(max_target_));
  U256 target = target_from_work(desired);
  if (target > max_target_) target = max_target_;
  return to_compact(target);
}

bool ShareChain::block_pow(const U256& pow, const ShareInfo& info, const chain::BlockHeader& header) const {
  if (pow > U256::from_compact(header.bits)) return false;
  return params_.block_shift == 0 || pow <= (U256::from_compact(info.bits) >> params_.block_shift);
}

std::vector<const ShareEntry*> ShareChain::window(const ShareEntry* last) const {
  std::vector<const ShareEntry*> out;
  for (const ShareEntry* e = last; e && out.size() < params_.window; e = e->parent) out.push_back(e);
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<chain::TxOut> ShareChain::expected_payouts(const ShareEntry* parent, const ShareInfo& info,
                                                      int64_t reward) const {
  std::vector<WindowShare> w;
  w.reserve(params_.window);
  size_t n = 0;
  for (const ShareEntry* e = parent; e && n + 1 < params_.window; e = e->parent, ++n)
    w.push_back({&e->share.info.payout_script, e->work});
  std::reverse(w.begin(), w.end());
  w.push_back({&info.payout_script, work_from_target(U256::from_compact(info.bits))});
  return window_payouts(w, reward, info, params_);
}

std::optional<std::string> ShareChain::verify(const Share& s, const ShareEntry* parent, int64_t now_unix,
                                              std::optional<bool> trusted_block, bool* block,
                                              std::optional<U256> known_pow) const {
  const ShareInfo& in = s.info;
  if (in.version != 1) return "unknown share version " + std::to_string(in.version);
  if (parent) {
    if (in.prev_share != parent->hash) return "prev_share is not the parent";
    if (in.height != parent->share.info.height + 1) return "height is not the parent's + 1";
    if (int64_t(in.time) + 60 < int64_t(parent->share.info.time)) return "time more than 60 s before the parent's";
  } else if (in.height != 0 || in.prev_share != Hash256{}) {
    return "unknown parent";
  }
  if (int64_t(in.time) > now_unix + params_.max_future_seconds) return "time too far in the future";
  if (in.bits != next_bits(parent)) return "share target is not the chain's retarget";
  if (params_.fee_ppm == 0 ? !in.fee_script.empty() : in.fee_script.empty())
    return params_.fee_ppm ? "missing fee script" : "fee script on a network without a fee";

  // The coinbase this share must have, rebuilt from the chain: if the miner's coinbase paid
  // anything else, the merkle root in the header does not match.
  auto payouts = expected_payouts(parent, in, s.reward);
  Bytes coinbase;
  try {
    coinbase = share_coinbase(s, payouts, network_id_);
  } catch (const std::invalid_argument& e) {
    return std::string("coinbase: ") + e.what();
  }
  Hash256 txid = crypto::sha256d(coinbase);
  if (chain::merkle_root_from_branch(txid, s.merkle_branch) != s.header.merkle_root)
    return "coinbase does not pay what the chain prescribes (merkle root mismatch)";

  bool is_block;
  if (trusted_block) {
    is_block = *trusted_block;
  } else {
    U256 pow = known_pow ? *known_pow : header_pow(params_.coin, s.header);
    if (pow > U256::from_compact(in.bits)) return "proof of work above the share target";
    is_block = block_pow(pow, in, s.header);
  }
  if (!is_block && !s.transactions.empty()) return "transactions on a share that is not a block";
  if (s.txids.size() != s.transactions.size()) return "txids and transactions differ in number";
  if (is_block && chain::merkle_branch(s.txids) != s.merkle_branch)
    return "block share without its transactions (or they do not match the merkle branch)";
  if (block) *block = is_block;
  return std::nullopt;
}

AddResult ShareChain::add(Share share, int64_t now_unix, std::optional<bool> trusted_block, std::optional<U256> pow) {
  AddResult r;
  Hash256 hash = share.hash();
  if (entries_.count(hash)) {
    r.status = AddStatus::duplicate;
    r.entry = find(hash);
    return r;
  }
  const ShareEntry* parent = nullptr;
  if (share.info.height != 0 || share.info.prev_share != Hash256{}) {
    parent = find(share.info.prev_share);
    if (!parent) {
      for (auto [it, end] = orphans_.equal_range(share.info.prev_share); it != end; ++it)
        if (it->second.share.hash() == hash) {
          r.status = AddStatus::duplicate;
          return r;
        }
      if (orphans_.size() >= kMaxOrphans) {  // drop the oldest
        Hash256 old = orphan_order_.front();
        orphan_order_.erase(orphan_order_.begin());
        for (auto it = orphans_.begin(); it != orphans_.end(); ++it)
          if (it->second.share.hash() == old) {
            orphans_.erase(it);
            break;
          }
      }
      orphan_order_.push_back(hash);
      orphans_.emplace(share.info.prev_share, Orphan{std::move(share), trusted_block, pow});
      r.status = AddStatus::orphan;
      return r;
    }
  }
  bool block = false;
  if (auto why = verify(share, parent, now_unix, trusted_block, &block, pow)) {
    r.status = AddStatus::invalid;
    r.reason = *why;
    return r;
  }
  auto e = std::make_unique<ShareEntry>();
  e->hash = hash;
  e->parent = parent;
  e->share = std::move(share);
  r.status = AddStatus::accepted;
  connect(std::move(e), block, r);

  // Orphans waiting for this share (and their children) can connect now.
  std::vector<Hash256> ready = {hash};
  while (!ready.empty()) {
    Hash256 p = ready.back();
    ready.pop_back();
    auto [it, end] = orphans_.equal_range(p);
    std::vector<Orphan> kids;
    for (; it != end; ++it) kids.push_back(std::move(it->second));
    orphans_.erase(p);
    const ShareEntry* pe = find(p);
    for (auto& k : kids) {
      Hash256 kh = k.share.hash();
      std::erase(orphan_order_, kh);
      bool kb = false;
      if (entries_.count(kh) || verify(k.share, pe, now_unix, k.trusted_block, &kb, k.pow)) continue;
      auto ke = std::make_unique<ShareEntry>();
      ke->hash = kh;
      ke->parent = pe;
      ke->share = std::move(k.share);
      AddResult kr;
      connect(std::move(ke), kb, kr);
      adopted_.push_back(kr.entry);
      r.new_tip |= kr.new_tip;
      ready.push_back(kh);
    }
  }
  return r;
}

void ShareChain::connect(std::unique_ptr<ShareEntry> e, bool block, AddResult& r) {
  e->work = work_from_target(U256::from_compact(e->share.info.bits));
  e->chain_work = (e->parent ? e->parent->chain_work : 0) + e->work;
  e->block = block;
  e->received_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const ShareEntry* p = e.get();
  entries_.emplace(e->hash, std::move(e));
  r.entry = p;
  if (!tip_ || p->chain_work > tip_->chain_work) {
    tip_ = p;
    r.new_tip = true;
  }
}

std::vector<const ShareEntry*> ShareChain::take_adopted() { return std::exchange(adopted_, {}); }

std::vector<Hash256> ShareChain::locator() const {
  std::vector<Hash256> out;
  uint64_t step = 1;
  for (const ShareEntry* e = tip_; e;) {
    out.push_back(e->hash);
    if (out.size() >= 10) step *= 2;
    e = ancestor(e, step);
  }
  return out;
}

std::vector<const ShareEntry*> ShareChain::after_locator(std::span<const Hash256> loc, size_t max) const {
  if (!tip_) return {};
  // The newest locator entry on our best chain.
  const ShareEntry* fork = nullptr;
  for (const auto& h : loc) {
    const ShareEntry* e = find(h);
    if (!e || e->share.info.height > tip_->share.info.height) continue;
    if (ancestor(tip_, tip_->share.info.height - e->share.info.height) == e) {
      fork = e;
      break;
    }
  }
  std::vector<const ShareEntry*> path;
  for (const ShareEntry* e = tip_; e && e != fork; e = e->parent) path.push_back(e);
  std::reverse(path.begin(), path.end());
  if (path.size() > max) path.resize(max);
  return path;
}

}  // namespace otedama::p2p
