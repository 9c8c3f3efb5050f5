#include "pool/ledger.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "stats/stats.h"

namespace otedama::pool {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

accounting::Work share_work(const std::string& algorithm, double stratum_difficulty) {
  return accounting::work_from_difficulty(algorithm == "scrypt" ? stratum_difficulty / 65536.0 : stratum_difficulty);
}

namespace {

// Until the network difficulty is known a PPLNS window keeps every share it is given.
constexpr accounting::Work kProvisionalTarget = accounting::Work(1) << 120;
constexpr std::chrono::hours kPplnsRebuildSpan{24 * 7};

std::vector<store::Credit> to_store(const accounting::Payout& p) {
  std::vector<store::Credit> out;
  for (const auto& c : p.credits)
    if (c.amount > 0) out.push_back({c.account, c.amount});
  return out;
}

}  // namespace

Ledger::Ledger(std::shared_ptr<store::Store> store, const std::vector<config::PoolConfig>& pools, int64_t now_ms)
    : store_(std::move(store)) {
  if (!store_) throw std::invalid_argument("the ledger needs a store");
  for (const auto& p : pools) {
    if (!p.enable || p.coin.empty()) continue;
    if (lines_.count(p.coin)) {
      const Line& first = *lines_.at(p.coin);
      if (first.system != p.reward_system || first.fee.ppm != accounting::fee_from_percentage(p.fee_percentage).ppm)
        spdlog::warn("pool {}: coin {} is accounted with the reward system and fee of its first pool", p.name, p.coin);
      continue;
    }
    auto l = std::make_unique<Line>();
    l->coin = p.coin;
    l->algorithm = p.algorithm;
    l->system = p.reward_system;
    try {
      l->fee = accounting::fee_from_percentage(p.fee_percentage);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("pool '" + p.name + "': fee_percentage: " + e.what());
    }
    if (l->system == config::RewardSystem::PPLNS) {
      accounting::WindowSpec spec;
      std::vector<store::StoredShare> stored;
      if (p.reward_window.duration) {
        spec.duration = std::chrono::duration_cast<std::chrono::milliseconds>(*p.reward_window.duration);
        stored = store_->shares_since(p.coin, now_ms - spec.duration->count());
      } else {
        if (!(p.reward_window.difficulty_multiple > 0))
          throw std::invalid_argument("pool '" + p.name + "': rewards.window must be a duration or a multiple > 0");
        l->multiple = p.reward_window.difficulty_multiple;
        spec.work_target = kProvisionalTarget;
        stored = store_->shares_since(p.coin, now_ms - std::chrono::milliseconds(kPplnsRebuildSpan).count());
      }
      l->window.emplace(spec);
      for (const auto& s : stored) {
        l->next_time = std::max(l->next_time, s.share.time_ms);
        try {
          l->window->add({s.share.account, share_work(p.algorithm, s.share.difficulty), s.share.time_ms});
        } catch (const std::invalid_argument&) {  // a difficulty the store took but the window cannot
        }
      }
      if (spec.duration) l->window->advance_to(now_ms);
      spdlog::info("accounting {}: {} window rebuilt from {} stored shares ({} accounts)", p.coin,
                   spec.duration ? "PPLNT" : "PPLNS", stored.size(), l->window->account_count());
    }
    lines_.emplace(p.coin, std::move(l));
  }
}

Ledger::~Ledger() = default;

Ledger::Line* Ledger::line(const std::string& coin) {
  auto it = lines_.find(coin);
  return it == lines_.end() ? nullptr : it->second.get();
}

void Ledger::on_durable(uint64_t seq, std::function<void()> fn) {
  if (seq == 0) return fn();
  store_->on_durable(seq, std::move(fn));
}

uint64_t Ledger::share(const std::string& coin, std::string_view login, double stratum_difficulty, int64_t height,
                       bool block_candidate) {
  Line* l = line(coin);
  if (!l) return 0;
  auto [account, worker] = stats::split_login(login);
  store::Share s;
  s.coin = coin;
  s.account = std::move(account);
  s.worker = std::move(worker);
  s.difficulty = stratum_difficulty;
  s.time_ms = unix_ms();
  s.height = height;
  s.block_candidate = block_candidate;
  accounting::Work work;
  try {
    work = share_work(l->algorithm, stratum_difficulty);
  } catch (const std::exception& e) {
    spdlog::error("accounting {}: share from '{}' not recorded: {}", coin, login, e.what());
    return 0;
  }
  uint64_t seq = 0;
  std::lock_guard lock(l->mutex);
  if (l->window) s.time_ms = std::max(s.time_ms, l->next_time);
  try {
    seq = store_->record_share(s);
  } catch (const std::exception& e) {
    spdlog::error("accounting {}: share from '{}' not recorded: {}", coin, login, e.what());
    return 0;
  }
  if (l->window) {
    l->next_time = s.time_ms;
    l->last_seq = seq;
    l->window->add({s.account, work, s.time_ms});
    if (l->window->spec().duration) l->window->advance_to(s.time_ms);
  } else if ((l->system == config::RewardSystem::PPS || l->system == config::RewardSystem::FPPS) && l->network_work > 0) {
    auto c = l->system == config::RewardSystem::PPS ? accounting::pps(l->subsidy, work, l->network_work, l->fee)
                                                    : accounting::fpps(l->subsidy, l->fees, work, l->network_work, l->fee);
    if (c.net() > 0) l->pps_accrued[s.account] += c.net();
    ++l->pps_shares;
  }
  return seq;
}

void Ledger::set_network(const std::string& coin, double network_difficulty, store::Amount subsidy,
                         store::Amount fees) {
  Line* l = line(coin);
  if (!l || !(network_difficulty > 0)) return;
  accounting::Work nw;
  try {
    nw = share_work(l->algorithm, network_difficulty);
  } catch (const std::invalid_argument&) {
    return;
  }
  std::lock_guard lock(l->mutex);
  l->network_work = nw;
  l->subsidy = std::max<store::Amount>(0, subsidy);
  l->fees = std::max<store::Amount>(0, fees);
  if (l->window && !l->window->spec().duration) {
    double scale = l->algorithm == "scrypt" ? 65536.0 : 1.0;
    l->window->set_work_target(accounting::pplns_work_target(l->multiple, network_difficulty / scale));
  }
}

void Ledger::block(const FoundBlock& found) {
  Line* l = line(found.coin);
  if (!l) return;
  auto [finder, worker] = stats::split_login(found.login);
  PendingBlock pb;
  pb.block.coin = found.coin;
  pb.block.height = found.height;
  pb.block.hash = found.hash;
  pb.block.reward = found.reward;
  pb.block.finder = finder;
  pb.block.time_ms = found.time_ms ? found.time_ms : unix_ms();
  if (l->window) {
    std::lock_guard lock(l->mutex);
    // The block closes its millisecond: its window is every share stamped up to its time.
    pb.block.time_ms = std::max(pb.block.time_ms, l->next_time);
    l->next_time = pb.block.time_ms + 1;
    pb.window_seq = l->last_seq;
    if (l->window->spec().duration) l->window->advance_to(pb.block.time_ms);
    if (found.reward > 0) pb.credits = to_store(l->window->payout(found.reward, l->fee));
  } else if (found.reward > 0 && l->system == config::RewardSystem::SOLO) {
    pb.credits = to_store(accounting::solo(finder, found.reward, l->fee));
  }  // PPS/FPPS: miners were paid per share; the block is the pool's
  {
    std::lock_guard lock(pending_mutex_);
    std::string key = found.coin + "/" + found.hash;
    if (!computed_.count(key)) computed_order_.push_back(key);
    computed_[key] = pb.credits;
    while (computed_order_.size() > 100) computed_.erase(computed_order_.front()), computed_order_.pop_front();
    pending_.push_back(std::move(pb));
  }
  spdlog::info("accounting {}: block {} at height {} ({} atomic units) to credit", found.coin, found.hash,
               found.height, found.reward);
}

void Ledger::flush() {
  std::lock_guard serial(flush_mutex_);
  while (true) {
    PendingBlock pb;
    {
      std::lock_guard lock(pending_mutex_);
      if (pending_.empty()) break;
      pb = pending_.front();
    }
    // Every share of the block's window must be stored before the block is: else a killed
    // process could leave a block whose credits no stored window explains.
    if (pb.window_seq && !store_->wait_durable(pb.window_seq, std::chrono::seconds(2))) {
      if (store_->durable_seq() < pb.window_seq)
        spdlog::warn("accounting {}: block {} waits for its window's shares to be stored", pb.block.coin, pb.block.hash);
      break;
    }
    try {
      store_->record_block(pb.block, pb.credits);
    } catch (const std::exception& e) {
      spdlog::error("accounting {}: block {} not recorded yet: {}", pb.block.coin, pb.block.hash, e.what());
      break;  // the store is unhappy: try again at the next flush, in order
    }
    std::lock_guard lock(pending_mutex_);
    pending_.pop_front();
  }
  for (auto& [coin, l] : lines_) {
    std::map<std::string, store::Amount> accrued;
    uint64_t shares;
    {
      std::lock_guard lock(l->mutex);
      if (l->pps_accrued.empty()) continue;
      accrued.swap(l->pps_accrued);
      shares = l->pps_shares;
      l->pps_shares = 0;
    }
    std::vector<store::Credit> credits;
    for (const auto& [account, amount] : accrued) credits.push_back({account, amount});
    try {
      store_->credit_payable(coin, credits,
                             std::string(config::to_string(l->system)) + " for " + std::to_string(shares) + " shares");
    } catch (const std::exception& e) {
      spdlog::error("accounting {}: {} credits not written yet: {}", coin, config::to_string(l->system), e.what());
      std::lock_guard lock(l->mutex);
      for (const auto& [account, amount] : accrued) l->pps_accrued[account] += amount;
      l->pps_shares += shares;
    }
  }
}

std::vector<accounting::Weight> Ledger::weights(const std::string& coin) {
  Line* l = line(coin);
  if (!l) return {};
  std::lock_guard lock(l->mutex);
  return l->window ? l->window->weights() : std::vector<accounting::Weight>{};
}

std::optional<std::vector<store::Credit>> Ledger::credits_of(const std::string& coin, const std::string& hash) {
  std::lock_guard lock(pending_mutex_);
  auto it = computed_.find(coin + "/" + hash);
  if (it == computed_.end()) return std::nullopt;
  return it->second;
}

}  // namespace otedama::pool
