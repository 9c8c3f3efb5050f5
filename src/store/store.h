// store: the pool's durable state behind one interface with two drivers, SQLite 3 (the
// embedded default, WAL) and PostgreSQL 15 (libpq, connection pool, reconnect with back-off).
//
// Shares go through a batched, append-first path off the hot path: record_share() only
// enqueues and returns a sequence number; a writer thread commits whatever has queued in one
// transaction (group commit) and then marks those sequence numbers durable. A pool that must
// not ack a share before it is on disk waits with wait_durable() / on_durable(). Everything
// else (blocks, credits, balances, payments, audit) is synchronous and transactional: a call
// returns after its commit, or throws StoreError and changed nothing.
//
// Everything is kept per coin (the `coin` argument: "litecoin", "monero", ...). Amounts are
// integer atomic units. See docs/storage.md for the schema and docs/operations.md for what a
// killed process or a power loss can lose.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"

namespace otedama::store {

using Amount = int64_t;

// Every failure of the store: connection, SQL, constraint, a bad state transition.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Opening a database whose schema is newer than this build knows.
class SchemaTooNewError : public StoreError {
 public:
  using StoreError::StoreError;
};

// The schema version this build writes (migrations 1..kSchemaVersion).
inline constexpr int kSchemaVersion = 1;

enum class Driver { sqlite, postgres };

struct Options {
  Driver driver = Driver::sqlite;
  std::string path;  // sqlite: the database file (created with its directory if missing)
  std::string dsn;   // postgres: "postgresql://user@host:port/db" or "host=... dbname=..."
  // sqlite: FULL fsyncs the WAL at every group commit (a share reported durable survives a
  // power loss); NORMAL only at checkpoints (survives a killed process, not a power loss).
  bool sqlite_synchronous_full = true;
  size_t max_batch = 50'000;          // shares per group commit at most
  size_t max_buffered = 2'000'000;    // queued shares before record_share() blocks (back-pressure)
  size_t pool_size = 4;               // postgres: connections for the synchronous calls
  std::chrono::milliseconds reconnect_min{50}, reconnect_max{5000};  // back-off bounds
};
// From the node's config: storage.driver/path/dsn; the SQLite file defaults to
// <app.data_dir>/otedama.db.
Options options_from_config(const config::Config& config);

// ---- records ------------------------------------------------------------------------------

struct Share {
  std::string coin;
  std::string account;  // who is paid: the payout address / login before the worker suffix
  std::string worker;   // rig name ("" when none)
  double difficulty = 0;  // the share's difficulty in the pool's Stratum units
  int64_t time_ms = 0;    // unix ms when accepted
  int64_t height = 0;     // the job's block height
  bool block_candidate = false;
};
struct StoredShare {
  int64_t id = 0;  // increasing in commit order, per database
  Share share;
};

struct Worker {
  std::string coin, account, worker;
  int64_t first_seen_ms = 0, last_seen_ms = 0;
  int64_t shares = 0;
  double difficulty_sum = 0;
};

enum class BlockStatus { pending, confirmed, orphaned };
const char* to_string(BlockStatus);

struct Block {
  std::string coin;
  int64_t height = 0;
  std::string hash;
  Amount reward = 0;
  std::string finder;  // account
  BlockStatus status = BlockStatus::pending;
  int64_t confirmations = 0;
  int64_t time_ms = 0;
  bool credited = false;  // credit_block() ran for it
};

struct Credit {
  std::string account;
  Amount amount = 0;
};

struct Balance {
  std::string coin, account;
  Amount pending = 0;   // from blocks not yet matured
  Amount payable = 0;   // matured (or PPS), not yet in a payment
  Amount reserved = 0;  // in a payment that is not confirmed or failed yet
  Amount paid = 0;      // in confirmed payments
};

// intended -> signed (txid recorded) -> broadcast -> confirmed; intended, signed or broadcast
// -> failed (the reserved amounts go back to payable).
enum class PaymentState { intended, signed_tx, broadcast, confirmed, failed };
const char* to_string(PaymentState);

struct PaymentOutput {
  std::string account;
  std::string address;
  Amount amount = 0;
};
struct Payment {
  int64_t id = 0;
  std::string coin;
  PaymentState state = PaymentState::intended;
  std::vector<PaymentOutput> outputs;
  std::string txid;    // set once signed
  std::string raw_tx;  // the signed transaction (or wallet tx metadata) kept for re-broadcast
  Amount fee = 0;      // the wallet's network fee, paid by the pool
  std::string reason;  // why it failed, or why it is still pending ("wallet locked")
  int64_t created_ms = 0, updated_ms = 0;
  Amount total() const;
};

// What a coin's blocks brought in and what was credited, for the operator's running balance
// under PPS/FPPS (the pool pays per share and keeps the blocks: a negative balance is the
// operator's loss so far).
struct RewardTotals {
  Amount blocks_pending = 0;    // rewards of blocks not yet matured
  Amount blocks_confirmed = 0;  // rewards of matured blocks
  Amount blocks_orphaned = 0;   // rewards lost to orphans
  int64_t pending_count = 0, confirmed_count = 0, orphaned_count = 0;
  Amount share_credits = 0;     // credits not tied to a block (PPS/FPPS): owed or paid to miners
  Amount block_credits = 0;     // credits from blocks (PPLNS/SOLO) that are not reversed
};

struct AuditEntry {
  int64_t id = 0;
  int64_t time_ms = 0;
  std::string coin;
  std::string action;   // block_credited, block_confirmed, block_orphaned, credit, payment_*
  std::string subject;  // block hash, payment id, account
  Amount amount = 0;
  std::string detail;
};

struct WriterStats {
  uint64_t recorded = 0;   // sequence numbers handed out
  uint64_t durable = 0;    // highest durable sequence number
  uint64_t batches = 0;    // group commits
  uint64_t failures = 0;   // failed batch attempts (retried)
  size_t queued = 0;       // waiting for the writer
  std::string last_error;  // the latest write failure, "" once a batch succeeds again
};

// ---- the interface -------------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;
  virtual Driver driver() const = 0;
  virtual int schema_version() = 0;

  // -- shares (asynchronous, group-committed) --
  // Enqueues the share and returns its sequence number (1, 2, ... per open store). Never does
  // I/O; blocks only when max_buffered shares are waiting (the database is down for long).
  // Throws StoreError after close() and std::invalid_argument for a share that cannot be
  // stored (empty coin or account, difficulty not positive and finite).
  virtual uint64_t record_share(Share share) = 0;
  // True once every share up to `seq` is committed; false on timeout.
  virtual bool wait_durable(uint64_t seq, std::chrono::milliseconds timeout) = 0;
  // Calls fn (on the writer thread, or at once if already durable) when `seq` is durable.
  // fn must be quick (post to an executor); it is also called at close() for shares that
  // could not be written, after the final attempt, so no waiter hangs (check durable_seq()).
  virtual void on_durable(uint64_t seq, std::function<void()> fn) = 0;
  virtual uint64_t durable_seq() const = 0;
  // Waits until everything recorded so far is durable (false on timeout).
  virtual bool flush(std::chrono::milliseconds timeout) = 0;
  virtual WriterStats writer_stats() const = 0;

  // Stored shares of a coin with id > after_id, in id order, at most `limit`.
  virtual std::vector<StoredShare> shares(const std::string& coin, int64_t after_id, size_t limit) = 0;
  // Stored shares of a coin with time_ms > since_ms, in id order (PPLNT windows at start-up).
  virtual std::vector<StoredShare> shares_since(const std::string& coin, int64_t since_ms) = 0;
  virtual int64_t share_count(const std::string& coin) = 0;
  virtual std::vector<Worker> workers(const std::string& coin) = 0;

  // -- blocks --
  // Records a found block (status pending). A block already there (same coin and hash) is
  // left as it is; returns false then.
  virtual bool add_block(const Block& block) = 0;
  virtual std::optional<Block> block(const std::string& coin, const std::string& hash) = 0;
  // Newest first; all statuses when `status` is empty.
  virtual std::vector<Block> blocks(const std::string& coin, std::optional<BlockStatus> status, size_t limit) = 0;
  // A found block and its reward split in ONE transaction: either both are stored or neither
  // (a killed process never leaves a block without its credits). A block already there is left
  // as it is (false), except that one still uncredited and pending gets these credits. Empty
  // credits (PPS/FPPS: the block is the pool's) leave the block uncredited. Credits must be
  // positive and add up to at most the reward (else StoreError, nothing stored).
  virtual bool record_block(const Block& block, const std::vector<Credit>& credits) = 0;
  virtual void set_block_confirmations(const std::string& coin, const std::string& hash, int64_t confirmations) = 0;

  // -- credits and balances (each call one transaction, each audited) --
  // The block's reward split (PPLNS/SOLO output), added as pending. Once per block: a second
  // call throws StoreError (no double credit). Credits must be positive.
  virtual void credit_block(const std::string& coin, const std::string& hash, const std::vector<Credit>& credits) = 0;
  // The block matured: status confirmed, its pending credits become payable.
  virtual void confirm_block(const std::string& coin, const std::string& hash, int64_t confirmations) = 0;
  // The block left the main chain: status orphaned, its pending credits are reversed. A
  // confirmed block cannot be orphaned (throws): maturity is chosen so that it does not happen.
  virtual void orphan_block(const std::string& coin, const std::string& hash, const std::string& reason) = 0;
  // Credits payable at once (PPS/FPPS), with the reason in the audit log.
  virtual void credit_payable(const std::string& coin, const std::vector<Credit>& credits, const std::string& reason) = 0;
  virtual std::vector<Balance> balances(const std::string& coin) = 0;
  // Block rewards by status and credits by kind, summed in one read.
  virtual RewardTotals reward_totals(const std::string& coin) = 0;
  virtual Balance balance(const std::string& coin, const std::string& account) = 0;

  // -- payments (the payout processor's state machine) --
  // Records the intent and moves each output's amount from payable to reserved, in one
  // transaction; throws StoreError (nothing changed) when an account's payable is short.
  virtual int64_t create_payment(const std::string& coin, const std::vector<PaymentOutput>& outputs) = 0;
  // intended -> signed_tx: the transaction id (and the signed transaction) before broadcast.
  virtual void payment_signed(int64_t id, const std::string& txid, const std::string& raw_tx, Amount fee) = 0;
  virtual void payment_broadcast(int64_t id) = 0;                      // signed_tx -> broadcast
  virtual void payment_confirmed(int64_t id) = 0;                      // broadcast -> confirmed
  virtual void payment_failed(int64_t id, const std::string& reason) = 0;  // -> failed, refund
  // Keeps the state, records why it is not moving ("insufficient funds", "wallet locked").
  virtual void payment_note(int64_t id, const std::string& reason) = 0;
  virtual std::optional<Payment> payment(int64_t id) = 0;
  // Oldest first; all states when `state` is empty.
  virtual std::vector<Payment> payments(const std::string& coin, std::optional<PaymentState> state) = 0;

  // -- audit log of money-moving actions, newest first --
  virtual std::vector<AuditEntry> audit_log(const std::string& coin, size_t limit) = 0;

  // Writes what is queued (retrying for up to `drain` while the database is unreachable),
  // stops the writer and closes the connections. Called by the destructor too.
  virtual void close(std::chrono::milliseconds drain = std::chrono::seconds(10)) = 0;
};

// Opens (creating the SQLite file or the PostgreSQL tables on first start) and migrates.
// Throws SchemaTooNewError for a newer schema, StoreError for everything else (unreachable
// server, unwritable path), with the path or DSN (without its password) in the message.
std::unique_ptr<Store> open(const Options& options);

}  // namespace otedama::store
