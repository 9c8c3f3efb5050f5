// accounting: reward computations as pure functions of (shares, reward, fee, parameters).
// No storage, no clocks, no floating point in the money path: amounts are integer atomic
// units (satoshi, piconero), share work is an integer (difficulty x 2^32), and every split
// is exact integer arithmetic, so two nodes computing the same window get the same outputs
// (the P2P share chain builds its coinbase with the same code).
//
// Rounding (the same everywhere):
//   fee      = floor(reward * fee_ppm / 1'000'000)
//   each     = floor((reward - fee) * work_i / total_work)          (PPLNS, PPLNT)
//   dust     = (reward - fee) - sum(each)                              (< number of accounts)
//   fee + dust + sum(each) == reward exactly; the pool keeps fee and dust.
//   PPS/FPPS = floor(value * share_work / network_work), then the fee as above is taken off.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace otedama::accounting {

using Amount = int64_t;        // atomic units of the coin; never negative in a payout
using Work = unsigned __int128;  // share work: difficulty x kWorkPerDifficulty

// 2^32 work units per unit of difficulty: share difficulties from 2^-32 to 2^96 are exact
// enough (a Stratum difficulty of 0.001 is 4294967 units) and sums of millions of shares
// cannot overflow 128 bits.
inline constexpr uint64_t kWorkPerDifficulty = 1ull << 32;

// Difficulty -> work units, rounded to nearest, at least 1 for any positive difficulty.
// Throws std::invalid_argument for NaN, infinite, negative or zero difficulty, or one >= 2^95.
// Units: share and network difficulty must be in the same units. For scrypt, Stratum share
// difficulties carry a factor 65536 relative to the network's (bitcoin-style) difficulty, so
// the caller divides the Stratum difficulty by 65536 (or multiplies the network difficulty by
// it) before calling; the functions below only ever see consistent units.
Work work_from_difficulty(double difficulty);
double difficulty_from_work(Work w);

// The pool fee as parts per million (1% = 10'000 ppm).
struct FeeRate {
  uint32_t ppm = 0;
};
// 0 <= percentage <= 100, else std::invalid_argument. Rounded to the nearest ppm.
FeeRate fee_from_percentage(double percentage);
// floor(amount * fee.ppm / 1e6). amount must be >= 0.
Amount fee_of(Amount amount, FeeRate fee);

// floor(a * b / c) exactly (192-bit intermediate). c > 0 and b <= c, so the result <= a.
uint64_t mul_div(uint64_t a, Work b, Work c);

// ---- splitting a reward among weighted accounts -------------------------------------------

struct Weight {
  std::string account;
  Work work = 0;
};

struct Credit {
  std::string account;
  Amount amount = 0;
  friend bool operator==(const Credit&, const Credit&) = default;
};

struct Payout {
  std::vector<Credit> credits;  // sorted by account; accounts whose amount rounds to 0 are left out
  Amount fee = 0;                // the pool fee
  Amount dust = 0;               // rounding remainder, kept by the pool
  Amount total_credited() const;
};

// Splits `reward` among the weights (duplicate accounts are merged, zero weights dropped):
// fee first, then each account floor((reward - fee) * work / total). No weights (or zero
// total work): everything but the fee is dust. Throws std::invalid_argument for a negative
// reward.
Payout split(std::span<const Weight> weights, Amount reward, FeeRate fee);

// ---- PPLNS / PPLNT ---------------------------------------------------------------------

struct Share {
  std::string account;
  Work work = 0;
  int64_t time_ms = 0;  // when the pool accepted it (unix ms)
};

// The window: the last N shares' worth of work (PPLNS: work_target = multiple x network
// difficulty, in work units) or the shares of the last `duration` (PPLNT).
struct WindowSpec {
  std::optional<std::chrono::milliseconds> duration;  // PPLNT when set
  Work work_target = 0;                               // PPLNS otherwise (> 0)
};
// multiple x network_difficulty in work units (multiple > 0, difficulty > 0, else throws).
Work pplns_work_target(double multiple, double network_difficulty);

// Pure PPLNS over a list of shares, oldest first (the P2P chain passes its share chain).
// Walks back from the newest share until the window's work is reached; the oldest share
// that straddles the window's edge counts only for the part inside, so the window holds
// exactly work_target (or all shares if they hold less). PPLNT: shares with
// time_ms > end_time_ms - duration count in full (end_time_ms: the block's time).
Payout pplns(std::span<const Share> shares_oldest_first, const WindowSpec& window, Amount reward,
             FeeRate fee, int64_t end_time_ms = 0);
// The weights the window gives each account (before any reward), for display and for
// coinbase outputs; sorted by account.
std::vector<Weight> pplns_weights(std::span<const Share> shares_oldest_first, const WindowSpec& window,
                                  int64_t end_time_ms = 0);

// The incremental window a pool keeps per coin: add() is O(1) amortized (old shares are
// evicted as new ones push them out), payout() is O(accounts), not O(shares). Gives the same
// result as pplns() over the same shares. Not thread-safe: one owner (the coin's strand).
class PplnsWindow {
 public:
  explicit PplnsWindow(WindowSpec spec);

  void add(const Share& share);  // shares arrive in time order (older times are clamped)
  // PPLNT: drops shares at or before now_ms - duration. PPLNS: no-op.
  void advance_to(int64_t now_ms);
  // PPLNS: a new network difficulty; a smaller target evicts at once, a larger one lets the
  // window grow as new shares arrive (evicted shares are not brought back).
  void set_work_target(Work target);

  Payout payout(Amount reward, FeeRate fee) const;
  std::vector<Weight> weights() const;  // sorted by account
  Work total_work() const;              // counted work (the straddling share clipped)
  size_t share_count() const { return shares_.size(); }
  size_t account_count() const { return live_accounts_; }
  const WindowSpec& spec() const { return spec_; }

 private:
  struct Entry {
    uint32_t account;
    Work work;
    int64_t time_ms;
  };
  struct Account {
    std::string name;
    Work work = 0;
    uint64_t shares = 0;
  };
  void evict_front();
  void evict();
  uint32_t intern(const std::string& account);
  Work clip() const;  // the part of the oldest share outside a PPLNS window

  WindowSpec spec_;
  std::deque<Entry> shares_;
  std::vector<Account> accounts_;
  // Ordered, so that payouts come out sorted by account without a sort per payout.
  std::map<std::string, uint32_t, std::less<>> index_;
  std::vector<uint32_t> free_;
  size_t live_accounts_ = 0;
  Work total_ = 0;  // sum of the work of shares_ (uncut)
  int64_t last_time_ = 0;
};

// ---- PPS / FPPS / SOLO -------------------------------------------------------------------

struct PpsCredit {
  Amount gross = 0;  // floor(value * share_work / network_work)
  Amount fee = 0;    // fee_of(gross)
  Amount net() const { return gross - fee; }
};
// PPS: the expected value of one share, block subsidy only. network_work > 0, share_work is
// clamped to network_work (a share cannot be worth more than a block).
PpsCredit pps(Amount block_subsidy, Work share_work, Work network_work, FeeRate fee);
// FPPS: the same, counting the template's transaction fees too.
PpsCredit fpps(Amount block_subsidy, Amount template_fees, Work share_work, Work network_work, FeeRate fee);

// SOLO: the finder takes the block minus the fee.
Payout solo(const std::string& finder, Amount reward, FeeRate fee);

// ---- the operator's side of PPS/FPPS ------------------------------------------------------

// Under PPS/FPPS the pool credits every share at once and keeps the blocks, so it carries the
// variance: its running balance is what its blocks brought in minus what the shares were
// credited (owed or already paid). Negative: the pool has credited more than it has found so
// far (the operator's loss to date). Pending rewards are kept apart: they may still be orphaned.
struct OperatorBalance {
  Amount confirmed = 0;  // matured block rewards - share credits (may be negative)
  Amount pending = 0;    // rewards of blocks found but not yet matured
  Amount expected() const { return confirmed + pending; }
  friend bool operator==(const OperatorBalance&, const OperatorBalance&) = default;
};
// Throws std::invalid_argument for a negative input or a result out of range.
OperatorBalance operator_balance(Amount rewards_confirmed, Amount rewards_pending, Amount share_credits);

// ---- maturity and orphans -------------------------------------------------------------------

// Coinbase maturity in confirmations: 100 for the Bitcoin family, 60 for Monero.
// Throws std::invalid_argument for an unknown coin.
uint32_t coinbase_maturity(std::string_view coin);

enum class BlockStatus { pending, confirmed, orphaned };
// What the daemon's view of a block means for its credits: not in the main chain ->
// orphaned; in it with at least `maturity` confirmations -> confirmed; else pending.
BlockStatus block_status(bool in_main_chain, int64_t confirmations, uint32_t maturity);

// A ledger line: a credit from a block (pending until it matures), or a reversal of one.
struct LedgerEntry {
  std::string account;
  std::string block_hash;
  Amount amount = 0;  // a reversal carries the negated amount
  bool reversal = false;
};
// The reversal entries that undo every not-yet-reversed credit of an orphaned block.
std::vector<LedgerEntry> reverse_block(std::span<const LedgerEntry> ledger, const std::string& block_hash);

struct AccountBalance {
  std::string account;
  Amount pending = 0;  // credits of blocks not yet matured
  Amount payable = 0;  // credits of matured blocks
  friend bool operator==(const AccountBalance&, const AccountBalance&) = default;
};
// Balances from a ledger and each block's status (a block missing from `status` is pending;
// credits of orphaned blocks count nowhere). Sorted by account.
std::vector<AccountBalance> balances(std::span<const LedgerEntry> ledger,
                                     const std::unordered_map<std::string, BlockStatus>& status);

}  // namespace otedama::accounting
