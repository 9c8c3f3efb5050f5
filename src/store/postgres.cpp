// The PostgreSQL driver (libpq): a small pool of connections for the synchronous calls, one
// dedicated connection for the share writer (COPY per batch), reconnect with back-off. A batch
// whose COMMIT may or may not have reached the server before the connection broke is checked
// against share_batches before it is sent again, so a server restart neither loses nor
// duplicates shares.
#include <libpq-fe.h>

#include <charconv>
#include <thread>

#include <spdlog/spdlog.h>

#include "store/sql.h"

namespace otedama::store {

namespace {

// The DSN without its password, for messages.
std::string redact(std::string dsn) {
  auto scheme = dsn.find("://");
  if (scheme != std::string::npos) {
    auto at = dsn.find('@', scheme + 3);
    auto colon = dsn.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      dsn.replace(colon + 1, at - colon - 1, "***");
  }
  for (size_t p = 0; (p = dsn.find("password=", p)) != std::string::npos;) {
    size_t v = p + 9, e = dsn.find_first_of(" &", v);
    dsn.replace(v, (e == std::string::npos ? dsn.size() : e) - v, "***");
    p = v;
  }
  return dsn;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "?" placeholders -> "$1", "$2", ... (the common SQL has no "?" inside literals).
std::string numbered(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (char c : sql) {
    if (c == '?') out += "$" + std::to_string(++n);
    else out.push_back(c);
  }
  return out;
}

void append_double(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// COPY text format: backslash escapes for the characters that delimit rows and columns.
void append_copy_text(std::string& out, const std::string& s) {
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
}

class PgConn : public Conn {
 public:
  PgConn(const std::string& dsn) {
    const char* keys[] = {"connect_timeout", "dbname", "application_name", nullptr};
    const char* vals[] = {"5", dsn.c_str(), "otedama", nullptr};
    c_ = PQconnectdbParams(keys, vals, 1);
    if (!c_ || PQstatus(c_) != CONNECTION_OK) {
      std::string msg = c_ ? trim(PQerrorMessage(c_)) : "out of memory";
      if (c_) PQfinish(c_);
      c_ = nullptr;
      throw StoreError("postgres: cannot connect to " + redact(dsn) + ": " + msg);
    }
    PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
  }
  ~PgConn() override {
    if (c_) PQfinish(c_);
  }
  bool ok() const { return c_ && PQstatus(c_) == CONNECTION_OK; }
  PGconn* raw() { return c_; }

  void exec(const std::string& sql) override {
    PGresult* r = PQexec(c_, sql.c_str());
    check(r, sql);
    PQclear(r);
  }

  Result query(const std::string& sql, const std::vector<Value>& params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> ptrs(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) {
        ptrs[i] = nullptr;
        continue;
      }
      if (auto p = std::get_if<int64_t>(&v)) text[i] = std::to_string(*p);
      else if (auto p = std::get_if<double>(&v)) append_double(text[i], *p);
      else text[i] = std::get<std::string>(v);
      ptrs[i] = text[i].c_str();
    }
    PGresult* r = PQexecParams(c_, numbered(sql).c_str(), int(params.size()), nullptr, ptrs.data(), nullptr, nullptr, 0);
    check(r, sql);
    Result out;
    int rows = PQntuples(r), cols = PQnfields(r);
    out.rows.reserve(size_t(rows));
    for (int i = 0; i < rows; ++i) {
      Row row;
      row.cells.reserve(size_t(cols));
      for (int j = 0; j < cols; ++j) {
        if (PQgetisnull(r, i, j)) row.cells.emplace_back(nullptr);
        else row.cells.emplace_back(std::string(PQgetvalue(r, i, j), size_t(PQgetlength(r, i, j))));
      }
      out.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(r);
    out.affected = affected && *affected ? std::atoll(affected) : 0;
    PQclear(r);
    return out;
  }

  // COPY ... FROM STDIN with the rows already in COPY text format.
  void copy_in(const std::string& copy_sql, const std::string& data) {
    PGresult* r = PQexec(c_, copy_sql.c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN) {
      check(r, copy_sql);  // throws with the server's message
      PQclear(r);
      throw StoreError("postgres: COPY did not start");
    }
    PQclear(r);
    constexpr size_t kChunk = 1 << 20;
    for (size_t off = 0; off < data.size(); off += kChunk) {
      size_t n = std::min(kChunk, data.size() - off);
      if (PQputCopyData(c_, data.data() + off, int(n)) != 1) throw StoreError("postgres: COPY: " + trim(PQerrorMessage(c_)));
    }
    if (PQputCopyEnd(c_, nullptr) != 1) throw StoreError("postgres: COPY: " + trim(PQerrorMessage(c_)));
    std::string err;
    while (PGresult* res = PQgetResult(c_)) {
      if (PQresultStatus(res) != PGRES_COMMAND_OK && err.empty()) err = trim(PQresultErrorMessage(res));
      PQclear(res);
    }
    if (!err.empty()) throw StoreError("postgres: COPY: " + err);
  }

 private:
  void check(PGresult* r, const std::string& sql) {
    auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
    std::string msg = r ? trim(PQresultErrorMessage(r)) : trim(PQerrorMessage(c_));
    if (msg.empty()) msg = trim(PQerrorMessage(c_));
    if (r) PQclear(r);
    throw StoreError("postgres: " + msg);
  }

  PGconn* c_ = nullptr;
};

class PostgresStore : public SqlStore {
 public:
  explicit PostgresStore(const Options& o) : SqlStore(o) {
    if (o.dsn.empty()) throw StoreError("store: storage.dsn (the PostgreSQL connection string) is empty");
    if (options_.pool_size == 0) options_.pool_size = 1;
    // The first connection proves the DSN; a refused start is clearer than a store that never writes.
    idle_.push_back(std::make_unique<PgConn>(o.dsn));
    open_count_ = 1;
    // One node migrates at a time (several nodes may share a database).
    migrate("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "SELECT pg_advisory_xact_lock(7303858391)");
    start_writer();
  }

  ~PostgresStore() override { close(std::chrono::seconds(10)); }

  Driver driver() const override { return Driver::postgres; }

  void close(std::chrono::milliseconds drain) override {
    stop_writer(drain);
    std::lock_guard lk(pool_mu_);
    pool_closed_ = true;
    idle_.clear();
    writer_conn_.reset();
  }

  void transaction(const std::function<void(Conn&)>& fn) override {
    std::unique_ptr<PgConn> c = acquire();
    try {
      c->exec("BEGIN");
      fn(*c);
      c->exec("COMMIT");
    } catch (...) {
      if (c->ok()) {
        PGresult* r = PQexec(c->raw(), "ROLLBACK");
        PQclear(r);
      }
      release(std::move(c));
      throw;
    }
    release(std::move(c));
  }

  void write_shares(const std::vector<Share>& batch, uint64_t first_seq) override {
    if (!writer_conn_ || !writer_conn_->ok()) {
      writer_conn_.reset();
      writer_conn_ = std::make_unique<PgConn>(options_.dsn);  // throws while the server is down
      writer_conn_->exec(
          "CREATE TEMP TABLE IF NOT EXISTS worker_batch (coin TEXT, account TEXT, worker TEXT, first_seen_ms BIGINT, "
          "last_seen_ms BIGINT, shares BIGINT, difficulty_sum DOUBLE PRECISION) ON COMMIT DELETE ROWS");
    }
    PgConn& c = *writer_conn_;
    try {
      if (uncertain_) {
        // The previous attempt broke off: its COMMIT may have landed.
        auto r = c.query("SELECT 1 FROM share_batches WHERE origin = ? AND first_seq = ?",
                         {int64_t(origin_), int64_t(first_seq)});
        if (!r.rows.empty()) {
          uncertain_ = false;
          return;
        }
      }
      uncertain_ = true;
      c.exec("BEGIN");
      std::string data;
      data.reserve(batch.size() * 96);
      for (const auto& s : batch) {
        append_copy_text(data, s.coin);
        data.push_back('\t');
        append_copy_text(data, s.account);
        data.push_back('\t');
        append_copy_text(data, s.worker);
        data.push_back('\t');
        append_double(data, s.difficulty);
        data.push_back('\t');
        data += std::to_string(s.time_ms);
        data.push_back('\t');
        data += std::to_string(s.height);
        data += s.block_candidate ? "\t1\n" : "\t0\n";
      }
      c.copy_in("COPY shares (coin, account, worker, difficulty, time_ms, height, block_candidate) FROM STDIN", data);
      data.clear();
      for (const auto& [key, w] : aggregate_workers(batch)) {
        append_copy_text(data, w.coin);
        data.push_back('\t');
        append_copy_text(data, w.account);
        data.push_back('\t');
        append_copy_text(data, w.worker);
        data.push_back('\t');
        data += std::to_string(w.first_seen_ms) + "\t" + std::to_string(w.last_seen_ms) + "\t" +
                std::to_string(w.shares) + "\t";
        append_double(data, w.difficulty_sum);
        data.push_back('\n');
      }
      c.copy_in("COPY worker_batch FROM STDIN", data);
      c.exec(
          "INSERT INTO workers (coin, account, worker, first_seen_ms, last_seen_ms, shares, difficulty_sum) "
          "SELECT coin, account, worker, first_seen_ms, last_seen_ms, shares, difficulty_sum FROM worker_batch "
          "ON CONFLICT (coin, account, worker) DO UPDATE SET "
          "last_seen_ms = GREATEST(workers.last_seen_ms, excluded.last_seen_ms), "
          "shares = workers.shares + excluded.shares, difficulty_sum = workers.difficulty_sum + excluded.difficulty_sum");
      c.query("INSERT INTO share_batches (origin, first_seq, count, time_ms) VALUES (?, ?, ?, ?)",
              {int64_t(origin_), int64_t(first_seq), int64_t(batch.size()), now_ms()});
      c.exec("COMMIT");
      uncertain_ = false;
    } catch (...) {
      if (c.ok()) {
        // The server answered with an error: nothing of this batch is committed.
        PGresult* r = PQexec(c.raw(), "ROLLBACK");
        PQclear(r);
        if (c.ok()) uncertain_ = false;
      }
      if (!c.ok()) writer_conn_.reset();
      throw;
    }
  }

 private:
  std::unique_ptr<PgConn> acquire() {
    std::unique_lock lk(pool_mu_);
    for (;;) {
      if (pool_closed_) throw StoreError("store: closed");
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (c->ok()) return c;
        --open_count_;  // broken (the server restarted): replace it below
        continue;
      }
      if (open_count_ < options_.pool_size) {
        ++open_count_;
        lk.unlock();
        // A few attempts with back-off: a restarting server comes back within seconds.
        auto delay = options_.reconnect_min;
        for (int attempt = 0;; ++attempt) {
          try {
            return std::make_unique<PgConn>(options_.dsn);
          } catch (const StoreError&) {
            if (attempt >= 3) {
              lk.lock();
              --open_count_;
              pool_cv_.notify_one();
              throw;
            }
          }
          std::this_thread::sleep_for(delay);
          delay = std::min(delay * 2, options_.reconnect_max);
        }
      }
      pool_cv_.wait(lk);
    }
  }

  void release(std::unique_ptr<PgConn> c) {
    std::lock_guard lk(pool_mu_);
    if (c->ok() && !pool_closed_) idle_.push_back(std::move(c));
    else --open_count_;
    pool_cv_.notify_one();
  }

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  size_t open_count_ = 0;
  bool pool_closed_ = false;
  std::unique_ptr<PgConn> writer_conn_;  // the writer thread's own
  bool uncertain_ = false;               // writer thread only
};

}  // namespace

std::unique_ptr<Store> open_postgres(const Options& options) { return std::make_unique<PostgresStore>(options); }

}  // namespace otedama::store
