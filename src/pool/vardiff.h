// Variable difficulty: ckpool's proven retarget rule, scaled to our target share interval.
// Pure logic (no I/O, no clock): callers pass the time in seconds from any steady clock.
//
// The estimate is a decaying (exponentially weighted, time-constant based) sum of the
// difficulties of accepted shares, divided by the time it covers: "difficulty-shares per
// second", which is proportional to the hashrate and does not depend on the difficulty the
// shares were mined at. A retarget happens only
//   - after retarget_shares shares or retarget_seconds since the last change, and
//   - when the share rate that estimate implies at the current difficulty leaves
//     low_ratio..high_ratio times the target rate (1 / target_share_time);
// the new difficulty is then estimate * target_share_time, clamped to min..max and to the
// miner's requested minimum. A fixed difficulty (rental "+DIFF", suggest_difficulty) turns
// it off.
#pragma once

#include <cstdint>
#include <optional>

namespace otedama::pool {

struct VardiffConfig {
  double target_share_time = 10;  // seconds between shares we aim for
  double min_difficulty = 1.0 / 4294967296.0;
  double max_difficulty = 1e12;
  double low_ratio = 0.5;    // retarget below this fraction of the target rate...
  double high_ratio = 1.33;  // ...or above this multiple of it
  uint32_t retarget_shares = 72;
  double retarget_seconds = 240;
  // Time constant of the estimate; 0 picks 90 target intervals (ckpool's 5 minutes at its
  // 3.33 s target): enough shares that a steady miner stays inside the band.
  double time_constant = 0;
  // With fewer shares than this since the last change the estimate is not trusted downwards:
  // the rate is taken as at least (shares + 1) / elapsed (a slow miner falls in bounded steps).
  uint32_t min_estimate_shares = 8;
};

class Vardiff {
 public:
  // Throws std::invalid_argument for a config that cannot work (non-positive times, min > max...).
  Vardiff(const VardiffConfig& config, double initial_difficulty, double now);

  // An accepted share, credited at `difficulty` (the one of its job), at time `now`.
  // Returns the new difficulty when a retarget is due, nullopt otherwise.
  std::optional<double> on_share(double now, double difficulty);
  // For miners that went quiet: call now and then (e.g. on each job refresh); may lower the
  // difficulty once retarget_seconds passed without enough shares.
  std::optional<double> on_tick(double now);

  double difficulty() const { return difficulty_; }
  // Estimated difficulty-shares per second (hashrate / 2^32 for sha256d), 0 before any share.
  double rate(double now) const;

  // A difficulty decided elsewhere (e.g. the share was judged at it); counters restart.
  void reset(double difficulty, double now);
  void set_fixed(double difficulty, double now);  // vardiff off
  bool fixed() const { return fixed_; }
  // The miner's requested minimum (BIP310 minimum-difficulty); raises the current one if needed.
  std::optional<double> set_miner_minimum(double minimum, double now);

  uint32_t shares_since_retarget() const { return shares_since_change_; }

 private:
  std::optional<double> consider(double now);
  void decay_to(double now);
  double clamp(double d) const;

  VardiffConfig cfg_;
  double tau_;
  double difficulty_;
  double miner_min_ = 0;
  bool fixed_ = false;
  double start_;            // when the estimate began
  double sum_ = 0;          // decayed sum of share difficulties
  double sum_time_;         // time sum_ is decayed to
  double last_change_;
  uint32_t shares_since_change_ = 0;
};

}  // namespace otedama::pool
