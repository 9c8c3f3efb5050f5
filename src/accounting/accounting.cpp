#include "accounting/accounting.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace otedama::accounting {

Work work_from_difficulty(double difficulty) {
  if (!std::isfinite(difficulty) || difficulty <= 0)
    throw std::invalid_argument("share difficulty must be a positive finite number");
  long double scaled = static_cast<long double>(difficulty) * kWorkPerDifficulty;
  if (scaled >= std::ldexp(1.0L, 127)) throw std::invalid_argument("difficulty too large for work units");
  long double r = std::nearbyint(scaled);
  if (r < 1) return 1;
  // Split into two 64-bit halves (long double has a 64-bit mantissa).
  long double hi = std::floor(r / std::ldexp(1.0L, 64));
  long double lo = r - hi * std::ldexp(1.0L, 64);
  return (Work(static_cast<uint64_t>(hi)) << 64) | Work(static_cast<uint64_t>(lo));
}

double difficulty_from_work(Work w) {
  long double v = static_cast<long double>(static_cast<uint64_t>(w >> 64)) * std::ldexp(1.0L, 64) +
                  static_cast<long double>(static_cast<uint64_t>(w));
  return static_cast<double>(v / kWorkPerDifficulty);
}

FeeRate fee_from_percentage(double percentage) {
  if (!std::isfinite(percentage) || percentage < 0 || percentage > 100)
    throw std::invalid_argument("fee percentage must be between 0 and 100");
  return FeeRate{static_cast<uint32_t>(std::llround(percentage * 10000.0))};
}

Amount fee_of(Amount amount, FeeRate fee) {
  if (amount < 0) throw std::invalid_argument("amount must not be negative");
  if (fee.ppm > 1'000'000) throw std::invalid_argument("fee above 100%");
  return static_cast<Amount>(static_cast<unsigned __int128>(amount) * fee.ppm / 1'000'000u);
}

uint64_t mul_div(uint64_t a, Work b, Work c) {
  if (c == 0) throw std::invalid_argument("mul_div by zero");
  if (b > c) throw std::invalid_argument("mul_div: b > c");
  if ((b >> 64) == 0) return static_cast<uint64_t>((Work(a) * static_cast<uint64_t>(b)) / c);
  // 192-bit product n2:n1:n0 = a * b, then binary long division by c.
  Work lo = Work(a) * static_cast<uint64_t>(b);
  Work hi = Work(a) * static_cast<uint64_t>(b >> 64);
  uint64_t n[3];
  n[0] = static_cast<uint64_t>(lo);
  Work mid = (lo >> 64) + static_cast<uint64_t>(hi);
  n[1] = static_cast<uint64_t>(mid);
  n[2] = static_cast<uint64_t>((hi >> 64) + (mid >> 64));
  Work r = 0, q = 0;
  for (int i = 191; i >= 0; --i) {
    bool carry = (r >> 127) != 0;
    r = (r << 1) | ((n[i / 64] >> (i % 64)) & 1);
    q <<= 1;
    if (carry || r >= c) {
      r -= c;  // wraps correctly when carry: the true remainder is r + 2^128 - c < c
      q |= 1;
    }
  }
  return static_cast<uint64_t>(q);  // q <= a since b <= c
}

Amount Payout::total_credited() const {
  Amount s = 0;
  for (const auto& c : credits) s += c.amount;
  return s;
}

Payout split(std::span<const Weight> weights, Amount reward, FeeRate fee) {
  if (reward < 0) throw std::invalid_argument("reward must not be negative");
  Payout out;
  out.fee = fee_of(reward, fee);
  Amount distributable = reward - out.fee;

  std::vector<const Weight*> sorted;
  sorted.reserve(weights.size());
  for (const auto& w : weights)
    if (w.work > 0) sorted.push_back(&w);
  std::sort(sorted.begin(), sorted.end(), [](const Weight* x, const Weight* y) { return x->account < y->account; });
  std::vector<Weight> merged;
  Work total = 0;
  for (const Weight* w : sorted) {
    if (!merged.empty() && merged.back().account == w->account)
      merged.back().work += w->work;
    else
      merged.push_back(*w);
    total += w->work;
  }
  Amount given = 0;
  if (total > 0) {
    for (const auto& w : merged) {
      Amount a = static_cast<Amount>(mul_div(static_cast<uint64_t>(distributable), w.work, total));
      if (a > 0) {
        out.credits.push_back({w.account, a});
        given += a;
      }
    }
  }
  out.dust = distributable - given;
  return out;
}

Work pplns_work_target(double multiple, double network_difficulty) {
  if (!std::isfinite(multiple) || multiple <= 0) throw std::invalid_argument("PPLNS window multiple must be positive");
  if (!std::isfinite(network_difficulty) || network_difficulty <= 0)
    throw std::invalid_argument("network difficulty must be positive");
  return work_from_difficulty(multiple * network_difficulty);
}

namespace {

void check_window(const WindowSpec& w) {
  if (w.duration) {
    if (w.duration->count() <= 0) throw std::invalid_argument("PPLNT window duration must be positive");
  } else if (w.work_target == 0) {
    throw std::invalid_argument("PPLNS window work target must be positive");
  }
}

}  // namespace

std::vector<Weight> pplns_weights(std::span<const Share> shares, const WindowSpec& window, int64_t end_time_ms) {
  check_window(window);
  std::map<std::string, Work> acc;
  if (window.duration) {
    if (shares.empty()) return {};
    int64_t end = end_time_ms != 0 ? end_time_ms : shares.back().time_ms;
    int64_t start = end - window.duration->count();  // exclusive
    for (auto it = shares.rbegin(); it != shares.rend(); ++it) {
      if (it->time_ms <= start) break;  // shares are oldest first: everything before is older
      if (it->time_ms > end || it->work == 0) continue;
      acc[it->account] += it->work;
    }
  } else {
    Work sum = 0;
    for (auto it = shares.rbegin(); it != shares.rend() && sum < window.work_target; ++it) {
      if (it->work == 0) continue;
      Work take = std::min(it->work, window.work_target - sum);  // the straddling share is clipped
      acc[it->account] += take;
      sum += take;
    }
  }
  std::vector<Weight> out;
  out.reserve(acc.size());
  for (auto& [k, v] : acc) out.push_back({k, v});
  return out;
}

Payout pplns(std::span<const Share> shares, const WindowSpec& window, Amount reward, FeeRate fee, int64_t end_time_ms) {
  auto w = pplns_weights(shares, window, end_time_ms);
  return split(w, reward, fee);
}

// ---- PplnsWindow ---------------------------------------------------------------------------

PplnsWindow::PplnsWindow(WindowSpec spec) : spec_(spec) { check_window(spec_); }

uint32_t PplnsWindow::intern(const std::string& account) {
  auto it = index_.find(account);
  if (it != index_.end()) return it->second;
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    accounts_[id] = Account{account, 0, 0};
  } else {
    id = static_cast<uint32_t>(accounts_.size());
    accounts_.push_back(Account{account, 0, 0});
  }
  index_.emplace(account, id);
  ++live_accounts_;
  return id;
}

void PplnsWindow::evict_front() {
  const Entry& e = shares_.front();
  Account& a = accounts_[e.account];
  a.work -= e.work;
  total_ -= e.work;
  if (--a.shares == 0) {
    index_.erase(a.name);
    a.name.clear();
    free_.push_back(e.account);
    --live_accounts_;
  }
  shares_.pop_front();
}

void PplnsWindow::evict() {
  if (spec_.duration) {
    int64_t start = last_time_ - spec_.duration->count();
    while (!shares_.empty() && shares_.front().time_ms <= start) evict_front();
  } else {
    // Drop the oldest share while the rest still fill the window on their own.
    while (!shares_.empty() && total_ - shares_.front().work >= spec_.work_target) evict_front();
  }
}

void PplnsWindow::add(const Share& share) {
  if (share.work == 0) return;
  int64_t t = std::max(share.time_ms, last_time_);
  last_time_ = t;
  uint32_t id = intern(share.account);
  accounts_[id].work += share.work;
  accounts_[id].shares += 1;
  total_ += share.work;
  shares_.push_back(Entry{id, share.work, t});
  evict();
}

void PplnsWindow::advance_to(int64_t now_ms) {
  if (!spec_.duration) return;
  last_time_ = std::max(last_time_, now_ms);
  evict();
}

void PplnsWindow::set_work_target(Work target) {
  if (spec_.duration) throw std::logic_error("set_work_target on a PPLNT window");
  if (target == 0) throw std::invalid_argument("PPLNS window work target must be positive");
  spec_.work_target = target;
  evict();
}

Work PplnsWindow::total_work() const {
  if (spec_.duration) return total_;
  return std::min(total_, spec_.work_target);
}

Work PplnsWindow::clip() const {
  if (!spec_.duration && !shares_.empty() && total_ > spec_.work_target) return total_ - spec_.work_target;
  return 0;
}

std::vector<Weight> PplnsWindow::weights() const {
  std::vector<Weight> out;
  out.reserve(live_accounts_);
  Work cut = clip();
  uint32_t cut_account = shares_.empty() ? 0 : shares_.front().account;
  for (const auto& [name, id] : index_) {
    Work w = accounts_[id].work - (cut != 0 && id == cut_account ? cut : 0);
    if (w > 0) out.push_back({name, w});
  }
  return out;
}

// The same arithmetic as split() over weights(), without building and sorting the weights:
// index_ is already in account order and holds each account once.
Payout PplnsWindow::payout(Amount reward, FeeRate fee) const {
  if (reward < 0) throw std::invalid_argument("reward must not be negative");
  Payout out;
  out.fee = fee_of(reward, fee);
  Amount distributable = reward - out.fee;
  Work cut = clip();
  uint32_t cut_account = shares_.empty() ? 0 : shares_.front().account;
  Work total = total_ - cut;
  Amount given = 0;
  if (total > 0) {
    out.credits.reserve(live_accounts_);
    for (const auto& [name, id] : index_) {
      Work w = accounts_[id].work - (cut != 0 && id == cut_account ? cut : 0);
      if (w == 0) continue;
      Amount a = static_cast<Amount>(mul_div(static_cast<uint64_t>(distributable), w, total));
      if (a > 0) {
        out.credits.push_back({name, a});
        given += a;
      }
    }
  }
  out.dust = distributable - given;
  return out;
}

// ---- PPS / FPPS / SOLO -----------------------------------------------------------------------

PpsCredit pps(Amount block_subsidy, Work share_work, Work network_work, FeeRate fee) {
  if (block_subsidy < 0) throw std::invalid_argument("block reward must not be negative");
  if (network_work == 0) throw std::invalid_argument("network difficulty must be positive");
  Work s = std::min(share_work, network_work);
  PpsCredit c;
  c.gross = static_cast<Amount>(mul_div(static_cast<uint64_t>(block_subsidy), s, network_work));
  c.fee = fee_of(c.gross, fee);
  return c;
}

PpsCredit fpps(Amount block_subsidy, Amount template_fees, Work share_work, Work network_work, FeeRate fee) {
  if (block_subsidy < 0 || template_fees < 0) throw std::invalid_argument("block reward and fees must not be negative");
  return pps(block_subsidy + template_fees, share_work, network_work, fee);
}

Payout solo(const std::string& finder, Amount reward, FeeRate fee) {
  Weight w{finder, 1};
  return split(std::span<const Weight>(&w, 1), reward, fee);
}

// ---- maturity and orphans ----------------------------------------------------------------------

uint32_t coinbase_maturity(std::string_view coin) {
  if (coin == "bitcoin" || coin == "litecoin") return 100;
  if (coin == "monero") return 60;
  throw std::invalid_argument("no coinbase maturity known for coin '" + std::string(coin) + "'");
}

BlockStatus block_status(bool in_main_chain, int64_t confirmations, uint32_t maturity) {
  if (!in_main_chain || confirmations < 0) return BlockStatus::orphaned;
  return confirmations >= static_cast<int64_t>(maturity) ? BlockStatus::confirmed : BlockStatus::pending;
}

std::vector<LedgerEntry> reverse_block(std::span<const LedgerEntry> ledger, const std::string& block_hash) {
  // Net per account of the block's entries: whatever is still credited gets one reversal.
  std::map<std::string, Amount> net;
  for (const auto& e : ledger)
    if (e.block_hash == block_hash) net[e.account] += e.amount;
  std::vector<LedgerEntry> out;
  for (auto& [account, amount] : net)
    if (amount != 0) out.push_back({account, block_hash, -amount, true});
  return out;
}

std::vector<AccountBalance> balances(std::span<const LedgerEntry> ledger,
                                     const std::unordered_map<std::string, BlockStatus>& status) {
  std::map<std::string, AccountBalance> acc;
  for (const auto& e : ledger) {
    auto it = status.find(e.block_hash);
    BlockStatus s = it == status.end() ? BlockStatus::pending : it->second;
    if (s == BlockStatus::orphaned) continue;
    auto& b = acc[e.account];
    b.account = e.account;
    (s == BlockStatus::confirmed ? b.payable : b.pending) += e.amount;
  }
  std::vector<AccountBalance> out;
  for (auto& [k, v] : acc) out.push_back(v);
  return out;
}

OperatorBalance operator_balance(Amount rewards_confirmed, Amount rewards_pending, Amount share_credits) {
  if (rewards_confirmed < 0 || rewards_pending < 0 || share_credits < 0)
    throw std::invalid_argument("operator balance: rewards and credits cannot be negative");
  OperatorBalance b;
  if (__builtin_sub_overflow(rewards_confirmed, share_credits, &b.confirmed) ||
      __builtin_add_overflow(b.confirmed, rewards_pending, &b.pending))  // expected() must fit too
    throw std::invalid_argument("operator balance: out of range");
  b.pending = rewards_pending;
  return b;
}

}  // namespace otedama::accounting
