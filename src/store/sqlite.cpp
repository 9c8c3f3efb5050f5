// The SQLite driver: one connection guarded by a mutex (SQLite serialises writers anyway),
// WAL journal, the share batch as one transaction of prepared inserts.
#include <sqlite3.h>

#include <filesystem>
#include <unordered_map>

#include "store/sql.h"

namespace otedama::store {

namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), int(sql.size()), &s_, nullptr) != SQLITE_OK)
      throw StoreError(std::string("sqlite: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void bind(int i, const Value& v) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(s_, i);
    else if (auto p = std::get_if<int64_t>(&v)) rc = sqlite3_bind_int64(s_, i, *p);
    else if (auto p = std::get_if<double>(&v)) rc = sqlite3_bind_double(s_, i, *p);
    else if (auto p = std::get_if<std::string>(&v)) rc = sqlite3_bind_text(s_, i, p->data(), int(p->size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw StoreError(std::string("sqlite: bind: ") + sqlite3_errmsg(db_));
  }
  void bind_text(int i, const std::string& s) {
    if (sqlite3_bind_text(s_, i, s.data(), int(s.size()), SQLITE_STATIC) != SQLITE_OK)
      throw StoreError(std::string("sqlite: bind: ") + sqlite3_errmsg(db_));
  }
  void bind_i64(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind_f64(int i, double v) { sqlite3_bind_double(s_, i, v); }
  // Runs a statement that returns no rows (an insert, BEGIN, COMMIT): the share writer's path,
  // without building a Result or clearing bindings it is about to overwrite.
  void step_done() {
    int rc = sqlite3_step(s_);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      std::string msg = sqlite3_errmsg(db_);
      sqlite3_reset(s_);
      throw StoreError("sqlite: " + msg);
    }
    sqlite3_reset(s_);
  }
  // Runs to completion, collecting rows.
  Result run() {
    Result r;
    for (;;) {
      int rc = sqlite3_step(s_);
      if (rc == SQLITE_ROW) {
        Row row;
        int n = sqlite3_column_count(s_);
        row.cells.reserve(size_t(n));
        for (int i = 0; i < n; ++i) {
          switch (sqlite3_column_type(s_, i)) {
            case SQLITE_INTEGER: row.cells.emplace_back(int64_t(sqlite3_column_int64(s_, i))); break;
            case SQLITE_FLOAT: row.cells.emplace_back(sqlite3_column_double(s_, i)); break;
            case SQLITE_NULL: row.cells.emplace_back(nullptr); break;
            default: {
              auto t = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
              row.cells.emplace_back(std::string(t ? t : "", size_t(sqlite3_column_bytes(s_, i))));
            }
          }
        }
        r.rows.push_back(std::move(row));
        continue;
      }
      if (rc == SQLITE_DONE) break;
      std::string msg = sqlite3_errmsg(db_);
      sqlite3_reset(s_);
      throw StoreError("sqlite: " + msg);
    }
    r.affected = sqlite3_changes64(db_);
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return r;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

class SqliteConn : public Conn {
 public:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  void exec(const std::string& sql) override {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw StoreError("sqlite: " + msg);
    }
  }
  Result query(const std::string& sql, const std::vector<Value>& params) override {
    Stmt& s = stmt(sql);
    for (size_t i = 0; i < params.size(); ++i) s.bind(int(i + 1), params[i]);
    return s.run();
  }
  Stmt& stmt(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Stmt>(db_, sql)).first;
    return *it->second;
  }
  void clear() { cache_.clear(); }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
};

class SqliteStore : public SqlStore {
 public:
  explicit SqliteStore(const Options& o) : SqlStore(o) {
    if (o.path.empty()) throw StoreError("store: storage.path (the SQLite file) is empty");
    std::filesystem::path p(o.path);
    std::error_code ec;
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) throw StoreError("store: cannot create the directory of " + o.path + ": " + ec.message());
    int rc = sqlite3_open_v2(o.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw StoreError("store: cannot open SQLite database " + o.path + ": " + msg);
    }
    conn_ = std::make_unique<SqliteConn>(db_);
    try {
      sqlite3_busy_timeout(db_, 5000);
      // WAL: readers never block the writer and a commit is one append to the log.
      auto r = conn_->query("PRAGMA journal_mode=WAL", {});
      if (r.rows.empty() || r.rows[0].str(0) != "wal")
        throw StoreError("store: " + o.path + " cannot use WAL mode (journal_mode is " +
                         (r.rows.empty() ? std::string("?") : r.rows[0].str(0)) + ")");
      conn_->exec(o.sqlite_synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      conn_->exec("PRAGMA foreign_keys=ON");
      migrate("INTEGER PRIMARY KEY", "");
    } catch (const StoreError& e) {
      conn_.reset();
      sqlite3_close(db_);
      db_ = nullptr;
      // "file is not a database" and friends: name the file.
      if (dynamic_cast<const SchemaTooNewError*>(&e)) throw;
      std::string m = e.what();
      if (m.find(o.path) == std::string::npos) m += " (" + o.path + ")";
      throw StoreError(m);
    }
    start_writer();
  }

  ~SqliteStore() override {
    close(std::chrono::seconds(10));
  }

  Driver driver() const override { return Driver::sqlite; }

  void close(std::chrono::milliseconds drain) override {
    stop_writer(drain);
    std::lock_guard lk(db_mu_);
    if (db_) {
      writer_.reset();
      conn_.reset();
      sqlite3_close(db_);
      db_ = nullptr;
    }
  }

  void transaction(const std::function<void(Conn&)>& fn) override {
    std::lock_guard lk(db_mu_);
    if (!db_) throw StoreError("store: closed");
    conn_->exec("BEGIN IMMEDIATE");
    try {
      fn(*conn_);
      conn_->exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  // One transaction per batch. The statements are prepared once (BEGIN and COMMIT too) and
  // text is bound without copies: at a few thousand shares/s a batch holds a handful of shares,
  // so per-commit work counts as much as per-share work. No share_batches row here: a local
  // commit either returned or did not happen (that table serves PostgreSQL's broken connections),
  // and each page fewer is one WAL frame fewer per commit.
  void write_shares(const std::vector<Share>& batch, uint64_t first_seq) override {
    std::lock_guard lk(db_mu_);
    if (!db_) throw StoreError("store: closed");
    if (!writer_) {
      writer_ = std::make_unique<WriterStmts>(db_);
    }
    WriterStmts& w = *writer_;
    w.begin.step_done();
    try {
      for (const auto& s : batch) {
        w.insert.bind_text(1, s.coin);
        w.insert.bind_text(2, s.account);
        w.insert.bind_text(3, s.worker);
        w.insert.bind_f64(4, s.difficulty);
        w.insert.bind_i64(5, s.time_ms);
        w.insert.bind_i64(6, s.height);
        w.insert.bind_i64(7, s.block_candidate ? 1 : 0);
        w.insert.step_done();
      }
      for (const auto& [key, wk] : aggregate_workers(batch)) {
        w.upsert.bind_text(1, wk.coin);
        w.upsert.bind_text(2, wk.account);
        w.upsert.bind_text(3, wk.worker);
        w.upsert.bind_i64(4, wk.first_seen_ms);
        w.upsert.bind_i64(5, wk.last_seen_ms);
        w.upsert.bind_i64(6, wk.shares);
        w.upsert.bind_f64(7, wk.difficulty_sum);
        w.upsert.step_done();
      }
      w.commit.step_done();
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    (void)first_seq;
  }

 private:
  struct WriterStmts {
    explicit WriterStmts(sqlite3* db)
        : begin(db, "BEGIN IMMEDIATE"),
          commit(db, "COMMIT"),
          insert(db,
                 "INSERT INTO shares (coin, account, worker, difficulty, time_ms, height, block_candidate) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)"),
          upsert(db,
                 "INSERT INTO workers (coin, account, worker, first_seen_ms, last_seen_ms, shares, difficulty_sum) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (coin, account, worker) DO UPDATE SET "
                 "last_seen_ms = max(workers.last_seen_ms, excluded.last_seen_ms), "
                 "shares = workers.shares + excluded.shares, "
                 "difficulty_sum = workers.difficulty_sum + excluded.difficulty_sum") {}
    Stmt begin, commit, insert, upsert;
  };

  std::mutex db_mu_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<SqliteConn> conn_;
  std::unique_ptr<WriterStmts> writer_;  // prepared on the first batch
};

}  // namespace

std::unique_ptr<Store> open_sqlite(const Options& options) { return std::make_unique<SqliteStore>(options); }

}  // namespace otedama::store
