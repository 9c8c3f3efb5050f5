#include "pool/vardiff.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace otedama::pool {

Vardiff::Vardiff(const VardiffConfig& config, double initial_difficulty, double now)
    : cfg_(config), start_(now), sum_time_(now), last_change_(now) {
  auto bad = [](const char* what) { throw std::invalid_argument(std::string("vardiff: ") + what); };
  if (!(cfg_.target_share_time > 0)) bad("target_share_time must be positive");
  if (!(cfg_.min_difficulty > 0) || !(cfg_.max_difficulty >= cfg_.min_difficulty)) bad("needs 0 < min <= max difficulty");
  if (!(cfg_.low_ratio > 0 && cfg_.low_ratio < 1 && cfg_.high_ratio > 1)) bad("needs 0 < low_ratio < 1 < high_ratio");
  if (!(cfg_.retarget_seconds > 0)) bad("retarget_seconds must be positive");
  if (cfg_.time_constant < 0) bad("time_constant must not be negative");
  if (!(initial_difficulty > 0)) bad("initial difficulty must be positive");
  tau_ = cfg_.time_constant > 0 ? cfg_.time_constant : 90 * cfg_.target_share_time;
  difficulty_ = clamp(initial_difficulty);
}

double Vardiff::clamp(double d) const {
  double hi = cfg_.max_difficulty;
  double lo = std::min(std::max(cfg_.min_difficulty, miner_min_), hi);
  return std::clamp(d, lo, hi);
}

void Vardiff::decay_to(double now) {
  if (now <= sum_time_) return;  // a clock that went back: keep what we have
  sum_ *= std::exp(-(now - sum_time_) / tau_);
  sum_time_ = now;
}

double Vardiff::rate(double now) const {
  double span = now - start_;
  if (span <= 0 || sum_ <= 0) return 0;
  double s = now > sum_time_ ? sum_ * std::exp(-(now - sum_time_) / tau_) : sum_;
  // The weight an exponential average over `span` seconds has accumulated: for a young
  // estimate this is ~span (a plain average), for an old one ~tau (ckpool's time bias).
  double weight = tau_ * -std::expm1(-span / tau_);
  return s / weight;
}

std::optional<double> Vardiff::on_share(double now, double difficulty) {
  decay_to(now);
  if (difficulty > 0 && std::isfinite(difficulty)) sum_ += difficulty;
  ++shares_since_change_;
  return consider(now);
}

std::optional<double> Vardiff::on_tick(double now) { return consider(now); }

std::optional<double> Vardiff::consider(double now) {
  if (fixed_) return std::nullopt;
  double elapsed = now - last_change_;
  if (elapsed <= 0) return std::nullopt;
  if (shares_since_change_ < cfg_.retarget_shares && elapsed < cfg_.retarget_seconds) return std::nullopt;
  double share_rate = rate(now) / difficulty_;  // shares per second at the current difficulty
  if (shares_since_change_ < cfg_.min_estimate_shares)
    share_rate = std::max(share_rate, (shares_since_change_ + 1) / elapsed);
  double target_rate = 1 / cfg_.target_share_time;
  if (share_rate >= cfg_.low_ratio * target_rate && share_rate <= cfg_.high_ratio * target_rate) return std::nullopt;
  double next = clamp(share_rate * difficulty_ * cfg_.target_share_time);
  if (next == difficulty_) return std::nullopt;  // pinned at a bound
  difficulty_ = next;
  last_change_ = now;
  shares_since_change_ = 0;
  return next;
}

void Vardiff::reset(double difficulty, double now) {
  difficulty_ = clamp(difficulty);
  last_change_ = now;
  shares_since_change_ = 0;
}

void Vardiff::set_fixed(double difficulty, double now) {
  fixed_ = true;
  reset(difficulty, now);
}

std::optional<double> Vardiff::set_miner_minimum(double minimum, double now) {
  miner_min_ = std::isfinite(minimum) && minimum > 0 ? minimum : 0;
  double d = clamp(difficulty_);
  if (d == difficulty_) return std::nullopt;
  reset(d, now);
  return d;
}

}  // namespace otedama::pool
