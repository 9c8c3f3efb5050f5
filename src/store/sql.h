// Internal: the part of the store both drivers share. A driver supplies a connection that runs
// parameterised SQL (written once with `?` placeholders, in the dialect SQLite 3.35+ and
// PostgreSQL 15 both speak), a transaction wrapper and the share batch writer; SqlStore does
// the group-commit writer thread, the money logic and the migrations on top of that.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include "store/store.h"

namespace otedama::store {

using Value = std::variant<std::nullptr_t, int64_t, double, std::string>;

// One result row. SQLite gives typed values, libpq text; the accessors convert either.
struct Row {
  std::vector<Value> cells;
  bool is_null(size_t i) const { return std::holds_alternative<std::nullptr_t>(cells.at(i)); }
  int64_t i64(size_t i) const;
  double f64(size_t i) const;
  std::string str(size_t i) const;
};

struct Result {
  std::vector<Row> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

class Conn {
 public:
  virtual ~Conn() = default;
  virtual void exec(const std::string& sql) = 0;  // no parameters, may hold several statements
  virtual Result query(const std::string& sql, const std::vector<Value>& params = {}) = 0;
};

int64_t now_ms();

// A batch's shares summed per (coin, account, worker), for one upsert per worker.
std::map<std::string, Worker> aggregate_workers(const std::vector<Share>& batch);

// A migration: SQL run once, in order, inside one transaction with its version row.
// "{id}" in the text becomes the driver's auto-increment primary key column type.
const std::vector<std::string>& migrations();

class SqlStore : public Store {
 public:
  explicit SqlStore(const Options& options);
  ~SqlStore() override;

  // Runs fn in one transaction on a connection (commit on return, rollback on throw).
  virtual void transaction(const std::function<void(Conn&)>& fn) = 0;
  // Writes one batch of shares (and its worker rows) durably, or throws. first_seq is the
  // batch's first sequence number; (origin_, first_seq) makes a retried batch idempotent.
  virtual void write_shares(const std::vector<Share>& batch, uint64_t first_seq) = 0;

  int schema_version() override;
  uint64_t record_share(Share share) override;
  bool wait_durable(uint64_t seq, std::chrono::milliseconds timeout) override;
  void on_durable(uint64_t seq, std::function<void()> fn) override;
  uint64_t durable_seq() const override;
  bool flush(std::chrono::milliseconds timeout) override;
  WriterStats writer_stats() const override;

  std::vector<StoredShare> shares(const std::string& coin, int64_t after_id, size_t limit) override;
  std::vector<StoredShare> shares_since(const std::string& coin, int64_t since_ms) override;
  int64_t share_count(const std::string& coin) override;
  std::vector<Worker> workers(const std::string& coin) override;

  bool add_block(const Block& block) override;
  bool record_block(const Block& block, const std::vector<Credit>& credits) override;
  std::optional<Block> block(const std::string& coin, const std::string& hash) override;
  std::vector<Block> blocks(const std::string& coin, std::optional<BlockStatus> status, size_t limit) override;
  void set_block_confirmations(const std::string& coin, const std::string& hash, int64_t confirmations) override;
  void credit_block(const std::string& coin, const std::string& hash, const std::vector<Credit>& credits) override;
  void confirm_block(const std::string& coin, const std::string& hash, int64_t confirmations) override;
  void orphan_block(const std::string& coin, const std::string& hash, const std::string& reason) override;
  void credit_payable(const std::string& coin, const std::vector<Credit>& credits, const std::string& reason) override;
  std::vector<Balance> balances(const std::string& coin) override;
  RewardTotals reward_totals(const std::string& coin) override;
  Balance balance(const std::string& coin, const std::string& account) override;

  int64_t create_payment(const std::string& coin, const std::vector<PaymentOutput>& outputs) override;
  void payment_signed(int64_t id, const std::string& txid, const std::string& raw_tx, Amount fee) override;
  void payment_broadcast(int64_t id) override;
  void payment_confirmed(int64_t id) override;
  void payment_failed(int64_t id, const std::string& reason) override;
  void payment_note(int64_t id, const std::string& reason) override;
  std::optional<Payment> payment(int64_t id) override;
  std::vector<Payment> payments(const std::string& coin, std::optional<PaymentState> state) override;
  std::vector<AuditEntry> audit_log(const std::string& coin, size_t limit) override;

  void close(std::chrono::milliseconds drain) override;

 protected:
  // Applies the migrations (drivers call this from their constructor, after connecting).
  // `id_type` replaces "{id}"; `lock_sql` runs first inside each migration transaction.
  void migrate(const std::string& id_type, const std::string& lock_sql);
  // Starts the writer thread (drivers call it last in their constructor).
  void start_writer();
  // Stops the writer after draining (drivers call close() from their destructor, before
  // their connections go away).
  void stop_writer(std::chrono::milliseconds drain);

  Options options_;
  uint64_t origin_;  // random per open: identifies this writer's batches

 private:
  void writer_loop();
  void audit(Conn& c, const std::string& coin, const std::string& action, const std::string& subject, Amount amount,
             const std::string& detail);
  void adjust(Conn& c, const std::string& coin, const std::string& account, Amount pending, Amount payable,
              Amount reserved, Amount paid);
  Payment load_payment(Conn& c, int64_t id);
  // The block's credits inside the caller's transaction (the block row exists).
  void credit_in(Conn& c, const std::string& coin, const std::string& hash, const std::vector<Credit>& credits);
  void transition(int64_t id, PaymentState to, const std::function<void(Conn&, Payment&)>& apply,
                  const std::string& detail);

  mutable std::mutex mu_;
  std::condition_variable work_cv_, durable_cv_, space_cv_;
  std::vector<Share> queue_;
  uint64_t next_seq_ = 0;      // last handed out
  uint64_t durable_ = 0;       // last committed
  uint64_t batches_ = 0, failures_ = 0;
  std::string last_error_;
  std::multimap<uint64_t, std::function<void()>> callbacks_;
  bool stopping_ = false, closed_ = false, writer_started_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::thread writer_;
  std::mutex close_mu_;
};

std::unique_ptr<Store> open_sqlite(const Options& options);
std::unique_ptr<Store> open_postgres(const Options& options);

}  // namespace otedama::store
