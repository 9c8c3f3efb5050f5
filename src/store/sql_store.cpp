#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "store/sql.h"

namespace otedama::store {

// ---- values ---------------------------------------------------------------------------------

int64_t Row::i64(size_t i) const {
  const Value& v = cells.at(i);
  if (auto p = std::get_if<int64_t>(&v)) return *p;
  if (auto p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
  if (auto p = std::get_if<std::string>(&v)) {
    try {
      return std::stoll(*p);
    } catch (const std::exception&) {
      throw StoreError("store: not an integer: '" + *p + "'");
    }
  }
  return 0;
}

double Row::f64(size_t i) const {
  const Value& v = cells.at(i);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (auto p = std::get_if<std::string>(&v)) return std::strtod(p->c_str(), nullptr);
  return 0;
}

std::string Row::str(size_t i) const {
  const Value& v = cells.at(i);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto p = std::get_if<double>(&v)) return std::to_string(*p);
  return {};
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::map<std::string, Worker> aggregate_workers(const std::vector<Share>& batch) {
  std::map<std::string, Worker> out;
  std::string key;
  for (const auto& s : batch) {
    key.clear();
    key.append(s.coin).push_back('\0');
    key.append(s.account).push_back('\0');
    key.append(s.worker);
    auto [it, fresh] = out.try_emplace(key);
    Worker& w = it->second;
    if (fresh) {
      w.coin = s.coin;
      w.account = s.account;
      w.worker = s.worker;
      w.first_seen_ms = s.time_ms;
      w.last_seen_ms = s.time_ms;
    }
    w.first_seen_ms = std::min(w.first_seen_ms, s.time_ms);
    w.last_seen_ms = std::max(w.last_seen_ms, s.time_ms);
    w.shares += 1;
    w.difficulty_sum += s.difficulty;
  }
  return out;
}

namespace {
// Valid UTF-8 without NUL: what both databases accept as TEXT.
bool storable_text(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) { ++i; continue; }
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = c & (0xff >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}
}  // namespace

const char* to_string(BlockStatus s) {
  switch (s) {
    case BlockStatus::pending: return "pending";
    case BlockStatus::confirmed: return "confirmed";
    case BlockStatus::orphaned: return "orphaned";
  }
  return "?";
}

const char* to_string(PaymentState s) {
  switch (s) {
    case PaymentState::intended: return "intended";
    case PaymentState::signed_tx: return "signed";
    case PaymentState::broadcast: return "broadcast";
    case PaymentState::confirmed: return "confirmed";
    case PaymentState::failed: return "failed";
  }
  return "?";
}

namespace {

BlockStatus block_status_from(const std::string& s) {
  if (s == "pending") return BlockStatus::pending;
  if (s == "confirmed") return BlockStatus::confirmed;
  if (s == "orphaned") return BlockStatus::orphaned;
  throw StoreError("store: unknown block status '" + s + "'");
}

PaymentState payment_state_from(const std::string& s) {
  for (auto st : {PaymentState::intended, PaymentState::signed_tx, PaymentState::broadcast, PaymentState::confirmed,
                  PaymentState::failed})
    if (s == to_string(st)) return st;
  throw StoreError("store: unknown payment state '" + s + "'");
}

const char* kBlockColumns = "coin, height, hash, reward, finder, status, confirmations, time_ms, credited";

Block block_from(const Row& r) {
  Block b;
  b.coin = r.str(0);
  b.height = r.i64(1);
  b.hash = r.str(2);
  b.reward = r.i64(3);
  b.finder = r.str(4);
  b.status = block_status_from(r.str(5));
  b.confirmations = r.i64(6);
  b.time_ms = r.i64(7);
  b.credited = r.i64(8) != 0;
  return b;
}

StoredShare share_from(const Row& r) {
  StoredShare s;
  s.id = r.i64(0);
  s.share.coin = r.str(1);
  s.share.account = r.str(2);
  s.share.worker = r.str(3);
  s.share.difficulty = r.f64(4);
  s.share.time_ms = r.i64(5);
  s.share.height = r.i64(6);
  s.share.block_candidate = r.i64(7) != 0;
  return s;
}

const char* kShareColumns = "id, coin, account, worker, difficulty, time_ms, height, block_candidate";

void check_credits(const std::vector<Credit>& credits) {
  for (const auto& c : credits) {
    if (c.account.empty()) throw StoreError("store: credit with an empty account");
    if (c.amount <= 0) throw StoreError("store: credit of " + std::to_string(c.amount) + " to " + c.account +
                                        " is not positive");
  }
}

}  // namespace

Amount Payment::total() const {
  Amount s = 0;
  for (const auto& o : outputs) s += o.amount;
  return s;
}

// ---- migrations -----------------------------------------------------------------------------

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      // 1: the initial schema. Shares are kept one row each (not aggregated): the PPLNS window
      // is rebuilt from them at start-up and balances can be recomputed from them.
      R"sql(
CREATE TABLE shares (
  id {id},
  coin TEXT NOT NULL,
  account TEXT NOT NULL,
  worker TEXT NOT NULL,
  difficulty DOUBLE PRECISION NOT NULL,
  time_ms BIGINT NOT NULL,
  height BIGINT NOT NULL,
  block_candidate SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX shares_coin_time ON shares (coin, time_ms);
CREATE TABLE share_batches (
  origin BIGINT NOT NULL,
  first_seq BIGINT NOT NULL,
  count BIGINT NOT NULL,
  time_ms BIGINT NOT NULL,
  PRIMARY KEY (origin, first_seq)
);
CREATE TABLE workers (
  coin TEXT NOT NULL,
  account TEXT NOT NULL,
  worker TEXT NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  shares BIGINT NOT NULL,
  difficulty_sum DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (coin, account, worker)
);
CREATE TABLE blocks (
  id {id},
  coin TEXT NOT NULL,
  height BIGINT NOT NULL,
  hash TEXT NOT NULL,
  reward BIGINT NOT NULL CHECK (reward >= 0),
  finder TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'orphaned')),
  confirmations BIGINT NOT NULL DEFAULT 0,
  time_ms BIGINT NOT NULL,
  credited SMALLINT NOT NULL DEFAULT 0,
  UNIQUE (coin, hash)
);
CREATE TABLE credits (
  id {id},
  coin TEXT NOT NULL,
  block_hash TEXT,
  account TEXT NOT NULL,
  amount BIGINT NOT NULL CHECK (amount > 0),
  status TEXT NOT NULL CHECK (status IN ('pending', 'payable', 'reversed')),
  time_ms BIGINT NOT NULL
);
CREATE INDEX credits_block ON credits (coin, block_hash);
CREATE TABLE balances (
  coin TEXT NOT NULL,
  account TEXT NOT NULL,
  pending BIGINT NOT NULL DEFAULT 0 CHECK (pending >= 0),
  payable BIGINT NOT NULL DEFAULT 0 CHECK (payable >= 0),
  reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  paid BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (coin, account)
);
CREATE TABLE payments (
  id {id},
  coin TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('intended', 'signed', 'broadcast', 'confirmed', 'failed')),
  txid TEXT NOT NULL DEFAULT '',
  raw_tx TEXT NOT NULL DEFAULT '',
  fee BIGINT NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE INDEX payments_coin_state ON payments (coin, state);
CREATE TABLE payment_outputs (
  payment_id BIGINT NOT NULL REFERENCES payments (id),
  account TEXT NOT NULL,
  address TEXT NOT NULL,
  amount BIGINT NOT NULL CHECK (amount > 0)
);
CREATE INDEX payment_outputs_payment ON payment_outputs (payment_id);
CREATE TABLE audit_log (
  id {id},
  time_ms BIGINT NOT NULL,
  coin TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  amount BIGINT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_log_coin ON audit_log (coin, id);
)sql",
  };
  return m;
}

// ---- SqlStore -------------------------------------------------------------------------------

SqlStore::SqlStore(const Options& options) : options_(options) {
  std::random_device rd;
  origin_ = ((uint64_t(rd()) << 32) | rd()) & 0x7fffffffffffffffull;
  if (options_.max_batch == 0) options_.max_batch = 1;
  if (options_.max_buffered < options_.max_batch) options_.max_buffered = options_.max_batch;
}

SqlStore::~SqlStore() = default;

int SqlStore::schema_version() {
  int v = 0;
  transaction([&](Conn& c) { v = int(c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").rows.at(0).i64(0)); });
  return v;
}

void SqlStore::migrate(const std::string& id_type, const std::string& lock_sql) {
  transaction([&](Conn& c) {
    if (!lock_sql.empty()) c.exec(lock_sql);
    c.exec("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
  });
  const auto& m = migrations();
  int known = int(m.size());
  int current = schema_version();
  if (current > known)
    throw SchemaTooNewError("store: the database schema is version " + std::to_string(current) +
                            " but this otedama knows versions up to " + std::to_string(known) +
                            "; upgrade otedama (or point storage at another database) - refusing to open");
  for (int v = current + 1; v <= known; ++v) {
    transaction([&](Conn& c) {
      if (!lock_sql.empty()) c.exec(lock_sql);
      // Another node may have migrated while we waited for the lock.
      if (c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version").rows.at(0).i64(0) >= v) return;
      std::string sql = m[size_t(v - 1)];
      for (size_t p; (p = sql.find("{id}")) != std::string::npos;) sql.replace(p, 4, id_type);
      c.exec(sql);
      c.query("INSERT INTO schema_version (version) VALUES (?)", {int64_t(v)});
    });
    spdlog::info("store: schema migrated to version {}", v);
  }
}

// ---- the share writer -------------------------------------------------------------------------

void SqlStore::start_writer() {
  writer_started_ = true;
  writer_ = std::thread([this] { writer_loop(); });
}

uint64_t SqlStore::record_share(Share share) {
  if (share.coin.empty() || share.account.empty())
    throw std::invalid_argument("store: a share needs a coin and an account");
  if (!std::isfinite(share.difficulty) || share.difficulty <= 0)
    throw std::invalid_argument("store: share difficulty must be positive and finite");
  if (!storable_text(share.coin) || !storable_text(share.account) || !storable_text(share.worker))
    throw std::invalid_argument("store: share coin, account and worker must be UTF-8 without NUL");
  std::unique_lock lk(mu_);
  if (stopping_) throw StoreError("store: closed");
  if (queue_.size() >= options_.max_buffered) {
    space_cv_.wait(lk, [&] { return queue_.size() < options_.max_buffered || stopping_; });
    if (stopping_) throw StoreError("store: closed");
  }
  bool was_empty = queue_.empty();
  queue_.push_back(std::move(share));
  uint64_t seq = ++next_seq_;
  lk.unlock();
  if (was_empty) work_cv_.notify_one();
  return seq;
}

bool SqlStore::wait_durable(uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return durable_cv_.wait_for(lk, timeout, [&] { return durable_ >= seq || (closed_ && durable_ < seq); }) &&
         durable_ >= seq;
}

void SqlStore::on_durable(uint64_t seq, std::function<void()> fn) {
  std::unique_lock lk(mu_);
  if (durable_ >= seq || closed_) {
    lk.unlock();
    fn();
    return;
  }
  callbacks_.emplace(seq, std::move(fn));
}

uint64_t SqlStore::durable_seq() const {
  std::lock_guard lk(mu_);
  return durable_;
}

bool SqlStore::flush(std::chrono::milliseconds timeout) {
  uint64_t target;
  {
    std::lock_guard lk(mu_);
    target = next_seq_;
  }
  return wait_durable(target, timeout);
}

WriterStats SqlStore::writer_stats() const {
  std::lock_guard lk(mu_);
  return WriterStats{next_seq_, durable_, batches_, failures_, queue_.size(), last_error_};
}

void SqlStore::writer_loop() {
  std::vector<Share> batch;
  auto backoff = options_.reconnect_min;
  for (;;) {
    uint64_t first_seq;
    {
      std::unique_lock lk(mu_);
      work_cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) break;  // stopping and drained
      if (queue_.size() <= options_.max_batch) {
        batch.swap(queue_);
        queue_.clear();
      } else {
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + ptrdiff_t(options_.max_batch)));
        queue_.erase(queue_.begin(), queue_.begin() + ptrdiff_t(options_.max_batch));
      }
      first_seq = durable_ + 1;  // batches commit in order: this one starts after the last
    }
    space_cv_.notify_all();
    bool written = false;
    for (;;) {
      try {
        write_shares(batch, first_seq);
        written = true;
        backoff = options_.reconnect_min;
        break;
      } catch (const std::exception& e) {
        std::unique_lock lk(mu_);
        ++failures_;
        if (last_error_ != e.what()) spdlog::warn("store: share batch not written yet (will retry): {}", e.what());
        last_error_ = e.what();
        if (stopping_ && std::chrono::steady_clock::now() >= drain_deadline_) break;
        // Back off, but wake at once for a close() so its drain deadline is honoured.
        work_cv_.wait_for(lk, backoff, [&] { return stopping_ && std::chrono::steady_clock::now() >= drain_deadline_; });
        backoff = std::min(backoff * 2, options_.reconnect_max);
      }
    }
    if (!written) {
      std::lock_guard lk(mu_);
      spdlog::error("store: closing with {} shares not written: {}", batch.size() + queue_.size(), last_error_);
      queue_.clear();
      break;
    }
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard lk(mu_);
      durable_ = first_seq + batch.size() - 1;
      ++batches_;
      last_error_.clear();
      auto end = callbacks_.upper_bound(durable_);
      for (auto it = callbacks_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
      callbacks_.erase(callbacks_.begin(), end);
    }
    durable_cv_.notify_all();
    for (auto& fn : ready) fn();
    batch.clear();
  }
  // Whatever could not be written: wake every waiter (they see durable_seq() below their seq).
  std::vector<std::function<void()>> rest;
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    for (auto& [s, fn] : callbacks_) rest.push_back(std::move(fn));
    callbacks_.clear();
  }
  durable_cv_.notify_all();
  space_cv_.notify_all();
  for (auto& fn : rest) fn();
}

void SqlStore::stop_writer(std::chrono::milliseconds drain) {
  std::lock_guard cl(close_mu_);
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
    drain_deadline_ = std::chrono::steady_clock::now() + drain;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lk(mu_);
  closed_ = true;
}

void SqlStore::close(std::chrono::milliseconds drain) { stop_writer(drain); }

// ---- share queries ----------------------------------------------------------------------------

std::vector<StoredShare> SqlStore::shares(const std::string& coin, int64_t after_id, size_t limit) {
  std::vector<StoredShare> out;
  transaction([&](Conn& c) {
    auto r = c.query(std::string("SELECT ") + kShareColumns + " FROM shares WHERE coin = ? AND id > ? ORDER BY id LIMIT ?",
                     {coin, after_id, int64_t(std::min<size_t>(limit, INT64_MAX))});
    out.reserve(r.rows.size());
    for (const auto& row : r.rows) out.push_back(share_from(row));
  });
  return out;
}

std::vector<StoredShare> SqlStore::shares_since(const std::string& coin, int64_t since_ms) {
  std::vector<StoredShare> out;
  transaction([&](Conn& c) {
    auto r = c.query(std::string("SELECT ") + kShareColumns + " FROM shares WHERE coin = ? AND time_ms > ? ORDER BY id",
                     {coin, since_ms});
    out.reserve(r.rows.size());
    for (const auto& row : r.rows) out.push_back(share_from(row));
  });
  return out;
}

int64_t SqlStore::share_count(const std::string& coin) {
  int64_t n = 0;
  transaction([&](Conn& c) { n = c.query("SELECT COUNT(*) FROM shares WHERE coin = ?", {coin}).rows.at(0).i64(0); });
  return n;
}

std::vector<Worker> SqlStore::workers(const std::string& coin) {
  std::vector<Worker> out;
  transaction([&](Conn& c) {
    auto r = c.query(
        "SELECT coin, account, worker, first_seen_ms, last_seen_ms, shares, difficulty_sum FROM workers "
        "WHERE coin = ? ORDER BY account, worker",
        {coin});
    for (const auto& row : r.rows)
      out.push_back(Worker{row.str(0), row.str(1), row.str(2), row.i64(3), row.i64(4), row.i64(5), row.f64(6)});
  });
  return out;
}

// ---- blocks and credits -------------------------------------------------------------------------

void SqlStore::audit(Conn& c, const std::string& coin, const std::string& action, const std::string& subject,
                     Amount amount, const std::string& detail) {
  c.query("INSERT INTO audit_log (time_ms, coin, action, subject, amount, detail) VALUES (?, ?, ?, ?, ?, ?)",
          {now_ms(), coin, action, subject, amount, detail});
}

void SqlStore::adjust(Conn& c, const std::string& coin, const std::string& account, Amount pending, Amount payable,
                      Amount reserved, Amount paid) {
  // Row first, then the update: the CHECKs (no negative balance) apply to the result only.
  c.query("INSERT INTO balances (coin, account) VALUES (?, ?) ON CONFLICT (coin, account) DO NOTHING", {coin, account});
  c.query(
      "UPDATE balances SET pending = pending + ?, payable = payable + ?, reserved = reserved + ?, paid = paid + ? "
      "WHERE coin = ? AND account = ?",
      {pending, payable, reserved, paid, coin, account});
}

bool SqlStore::add_block(const Block& b) {
  if (b.coin.empty() || b.hash.empty()) throw StoreError("store: a block needs a coin and a hash");
  if (b.reward < 0) throw StoreError("store: negative block reward");
  bool added = false;
  transaction([&](Conn& c) {
    auto r = c.query(std::string("INSERT INTO blocks (") + kBlockColumns +
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (coin, hash) DO NOTHING",
                     {b.coin, b.height, b.hash, b.reward, b.finder, std::string(to_string(b.status)), b.confirmations,
                      b.time_ms ? b.time_ms : now_ms()});
    added = r.affected > 0;
    if (added) audit(c, b.coin, "block_found", b.hash, b.reward, "height " + std::to_string(b.height) + " finder " + b.finder);
  });
  return added;
}

std::optional<Block> SqlStore::block(const std::string& coin, const std::string& hash) {
  std::optional<Block> out;
  transaction([&](Conn& c) {
    auto r = c.query(std::string("SELECT ") + kBlockColumns + " FROM blocks WHERE coin = ? AND hash = ?", {coin, hash});
    if (!r.rows.empty()) out = block_from(r.rows[0]);
  });
  return out;
}

std::vector<Block> SqlStore::blocks(const std::string& coin, std::optional<BlockStatus> status, size_t limit) {
  std::vector<Block> out;
  transaction([&](Conn& c) {
    std::string sql = std::string("SELECT ") + kBlockColumns + " FROM blocks WHERE coin = ?";
    std::vector<Value> p{coin};
    if (status) {
      sql += " AND status = ?";
      p.push_back(std::string(to_string(*status)));
    }
    sql += " ORDER BY height DESC, id DESC LIMIT ?";
    p.push_back(int64_t(std::min<size_t>(limit, INT64_MAX)));
    for (const auto& row : c.query(sql, p).rows) out.push_back(block_from(row));
  });
  return out;
}

namespace {
Block load_block(Conn& c, const std::string& coin, const std::string& hash) {
  auto r = c.query(std::string("SELECT ") + kBlockColumns + " FROM blocks WHERE coin = ? AND hash = ?", {coin, hash});
  if (r.rows.empty()) throw StoreError("store: no " + coin + " block " + hash);
  return block_from(r.rows[0]);
}
}  // namespace

void SqlStore::set_block_confirmations(const std::string& coin, const std::string& hash, int64_t confirmations) {
  transaction([&](Conn& c) {
    load_block(c, coin, hash);
    c.query("UPDATE blocks SET confirmations = ? WHERE coin = ? AND hash = ?", {confirmations, coin, hash});
  });
}

void SqlStore::credit_in(Conn& c, const std::string& coin, const std::string& hash, const std::vector<Credit>& credits) {
  Block b = load_block(c, coin, hash);
  if (b.credited) throw StoreError("store: " + coin + " block " + hash + " is already credited");
  if (b.status == BlockStatus::orphaned) throw StoreError("store: " + coin + " block " + hash + " is orphaned");
  Amount total = 0;
  for (const auto& cr : credits) total += cr.amount;
  if (total > b.reward)
    throw StoreError("store: credits of " + std::to_string(total) + " exceed the block reward " +
                     std::to_string(b.reward));
  bool mature = b.status == BlockStatus::confirmed;
  int64_t t = now_ms();
  for (const auto& cr : credits) {
    c.query("INSERT INTO credits (coin, block_hash, account, amount, status, time_ms) VALUES (?, ?, ?, ?, ?, ?)",
            {coin, hash, cr.account, cr.amount, std::string(mature ? "payable" : "pending"), t});
    adjust(c, coin, cr.account, mature ? 0 : cr.amount, mature ? cr.amount : 0, 0, 0);
  }
  c.query("UPDATE blocks SET credited = 1 WHERE coin = ? AND hash = ?", {coin, hash});
  audit(c, coin, "block_credited", hash, total, std::to_string(credits.size()) + " accounts");
}

void SqlStore::credit_block(const std::string& coin, const std::string& hash, const std::vector<Credit>& credits) {
  check_credits(credits);
  transaction([&](Conn& c) { credit_in(c, coin, hash, credits); });
}

bool SqlStore::record_block(const Block& b, const std::vector<Credit>& credits) {
  if (b.coin.empty() || b.hash.empty()) throw StoreError("store: a block needs a coin and a hash");
  if (b.reward < 0) throw StoreError("store: negative block reward");
  check_credits(credits);
  bool added = false;
  transaction([&](Conn& c) {
    auto r = c.query(std::string("INSERT INTO blocks (") + kBlockColumns +
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (coin, hash) DO NOTHING",
                     {b.coin, b.height, b.hash, b.reward, b.finder, std::string(to_string(b.status)), b.confirmations,
                      b.time_ms ? b.time_ms : now_ms()});
    added = r.affected > 0;
    if (added) audit(c, b.coin, "block_found", b.hash, b.reward, "height " + std::to_string(b.height) + " finder " + b.finder);
    if (credits.empty()) return;
    // A row an older version left uncredited (a kill between its two transactions) gets its
    // credits now; one already credited, matured or orphaned is left alone.
    Block stored = load_block(c, b.coin, b.hash);
    if (!stored.credited && stored.status == BlockStatus::pending) credit_in(c, b.coin, b.hash, credits);
  });
  return added;
}

void SqlStore::confirm_block(const std::string& coin, const std::string& hash, int64_t confirmations) {
  transaction([&](Conn& c) {
    Block b = load_block(c, coin, hash);
    if (b.status == BlockStatus::orphaned) throw StoreError("store: " + coin + " block " + hash + " is orphaned");
    c.query("UPDATE blocks SET status = 'confirmed', confirmations = ? WHERE coin = ? AND hash = ?",
            {confirmations, coin, hash});
    if (b.status == BlockStatus::confirmed) return;
    auto r = c.query("SELECT account, amount FROM credits WHERE coin = ? AND block_hash = ? AND status = 'pending'",
                     {coin, hash});
    Amount total = 0;
    for (const auto& row : r.rows) {
      adjust(c, coin, row.str(0), -row.i64(1), row.i64(1), 0, 0);
      total += row.i64(1);
    }
    c.query("UPDATE credits SET status = 'payable' WHERE coin = ? AND block_hash = ? AND status = 'pending'",
            {coin, hash});
    audit(c, coin, "block_confirmed", hash, total, std::to_string(confirmations) + " confirmations");
  });
}

void SqlStore::orphan_block(const std::string& coin, const std::string& hash, const std::string& reason) {
  transaction([&](Conn& c) {
    Block b = load_block(c, coin, hash);
    if (b.status == BlockStatus::orphaned) return;
    if (b.status == BlockStatus::confirmed)
      throw StoreError("store: " + coin + " block " + hash + " is confirmed; its credits cannot be reversed");
    auto r = c.query("SELECT account, amount FROM credits WHERE coin = ? AND block_hash = ? AND status = 'pending'",
                     {coin, hash});
    Amount total = 0;
    for (const auto& row : r.rows) {
      adjust(c, coin, row.str(0), -row.i64(1), 0, 0, 0);
      total += row.i64(1);
    }
    c.query("UPDATE credits SET status = 'reversed' WHERE coin = ? AND block_hash = ? AND status = 'pending'",
            {coin, hash});
    c.query("UPDATE blocks SET status = 'orphaned' WHERE coin = ? AND hash = ?", {coin, hash});
    audit(c, coin, "block_orphaned", hash, total, reason);
  });
}

void SqlStore::credit_payable(const std::string& coin, const std::vector<Credit>& credits, const std::string& reason) {
  check_credits(credits);
  transaction([&](Conn& c) {
    Amount total = 0;
    int64_t t = now_ms();
    for (const auto& cr : credits) {
      c.query("INSERT INTO credits (coin, block_hash, account, amount, status, time_ms) VALUES (?, NULL, ?, ?, 'payable', ?)",
              {coin, cr.account, cr.amount, t});
      adjust(c, coin, cr.account, 0, cr.amount, 0, 0);
      total += cr.amount;
    }
    audit(c, coin, "credit", "", total, reason + " (" + std::to_string(credits.size()) + " accounts)");
  });
}

std::vector<Balance> SqlStore::balances(const std::string& coin) {
  std::vector<Balance> out;
  transaction([&](Conn& c) {
    auto r = c.query("SELECT coin, account, pending, payable, reserved, paid FROM balances WHERE coin = ? ORDER BY account",
                     {coin});
    for (const auto& row : r.rows)
      out.push_back(Balance{row.str(0), row.str(1), row.i64(2), row.i64(3), row.i64(4), row.i64(5)});
  });
  return out;
}

Balance SqlStore::balance(const std::string& coin, const std::string& account) {
  Balance b{coin, account, 0, 0, 0, 0};
  transaction([&](Conn& c) {
    auto r = c.query("SELECT pending, payable, reserved, paid FROM balances WHERE coin = ? AND account = ?",
                     {coin, account});
    if (!r.rows.empty()) {
      b.pending = r.rows[0].i64(0);
      b.payable = r.rows[0].i64(1);
      b.reserved = r.rows[0].i64(2);
      b.paid = r.rows[0].i64(3);
    }
  });
  return b;
}

RewardTotals SqlStore::reward_totals(const std::string& coin) {
  RewardTotals t;
  transaction([&](Conn& c) {
    for (const auto& row :
         c.query("SELECT status, COALESCE(SUM(reward), 0), COUNT(*) FROM blocks WHERE coin = ? GROUP BY status", {coin})
             .rows) {
      switch (block_status_from(row.str(0))) {
        case BlockStatus::pending: t.blocks_pending = row.i64(1), t.pending_count = row.i64(2); break;
        case BlockStatus::confirmed: t.blocks_confirmed = row.i64(1), t.confirmed_count = row.i64(2); break;
        case BlockStatus::orphaned: t.blocks_orphaned = row.i64(1), t.orphaned_count = row.i64(2); break;
      }
    }
    auto r = c.query(
        "SELECT COALESCE(SUM(CASE WHEN block_hash IS NULL THEN amount ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN block_hash IS NOT NULL THEN amount ELSE 0 END), 0) "
        "FROM credits WHERE coin = ? AND status <> 'reversed'",
        {coin});
    t.share_credits = r.rows.at(0).i64(0);
    t.block_credits = r.rows.at(0).i64(1);
  });
  return t;
}

// ---- payments ------------------------------------------------------------------------------------

int64_t SqlStore::create_payment(const std::string& coin, const std::vector<PaymentOutput>& outputs) {
  if (outputs.empty()) throw StoreError("store: a payment needs at least one output");
  std::map<std::string, Amount> per_account;
  for (const auto& o : outputs) {
    if (o.account.empty() || o.address.empty()) throw StoreError("store: a payment output needs an account and an address");
    if (o.amount <= 0) throw StoreError("store: payment output amounts must be positive");
    per_account[o.account] += o.amount;
  }
  int64_t id = 0;
  transaction([&](Conn& c) {
    for (const auto& [account, amount] : per_account) {
      auto r = c.query("SELECT payable FROM balances WHERE coin = ? AND account = ?", {coin, account});
      Amount payable = r.rows.empty() ? 0 : r.rows[0].i64(0);
      if (payable < amount)
        throw StoreError("store: " + account + " has " + std::to_string(payable) + " payable, not " +
                         std::to_string(amount));
      adjust(c, coin, account, 0, -amount, amount, 0);
    }
    int64_t t = now_ms();
    id = c.query("INSERT INTO payments (coin, state, created_ms, updated_ms) VALUES (?, 'intended', ?, ?) RETURNING id",
                 {coin, t, t})
             .rows.at(0)
             .i64(0);
    Amount total = 0;
    for (const auto& o : outputs) {
      c.query("INSERT INTO payment_outputs (payment_id, account, address, amount) VALUES (?, ?, ?, ?)",
              {id, o.account, o.address, o.amount});
      total += o.amount;
    }
    audit(c, coin, "payment_intended", std::to_string(id), total, std::to_string(outputs.size()) + " outputs");
  });
  return id;
}

Payment SqlStore::load_payment(Conn& c, int64_t id) {
  auto r = c.query("SELECT id, coin, state, txid, raw_tx, fee, reason, created_ms, updated_ms FROM payments WHERE id = ?",
                   {id});
  if (r.rows.empty()) throw StoreError("store: no payment " + std::to_string(id));
  const Row& row = r.rows[0];
  Payment p;
  p.id = row.i64(0);
  p.coin = row.str(1);
  p.state = payment_state_from(row.str(2));
  p.txid = row.str(3);
  p.raw_tx = row.str(4);
  p.fee = row.i64(5);
  p.reason = row.str(6);
  p.created_ms = row.i64(7);
  p.updated_ms = row.i64(8);
  auto o = c.query("SELECT account, address, amount FROM payment_outputs WHERE payment_id = ? ORDER BY account, address",
                   {id});
  for (const auto& orow : o.rows) p.outputs.push_back(PaymentOutput{orow.str(0), orow.str(1), orow.i64(2)});
  return p;
}

void SqlStore::transition(int64_t id, PaymentState to, const std::function<void(Conn&, Payment&)>& apply,
                          const std::string& detail) {
  transaction([&](Conn& c) {
    Payment p = load_payment(c, id);
    bool ok = false;
    switch (to) {
      case PaymentState::signed_tx: ok = p.state == PaymentState::intended; break;
      case PaymentState::broadcast: ok = p.state == PaymentState::signed_tx; break;
      case PaymentState::confirmed: ok = p.state == PaymentState::broadcast; break;
      case PaymentState::failed:
        ok = p.state != PaymentState::confirmed && p.state != PaymentState::failed;
        break;
      case PaymentState::intended: ok = false; break;
    }
    if (!ok)
      throw StoreError(std::string("store: payment ") + std::to_string(id) + " is " + to_string(p.state) +
                       ", it cannot become " + to_string(to));
    apply(c, p);
    c.query("UPDATE payments SET state = ?, updated_ms = ? WHERE id = ?", {std::string(to_string(to)), now_ms(), id});
    audit(c, p.coin, std::string("payment_") + to_string(to), std::to_string(id), p.total(), detail);
  });
}

void SqlStore::payment_signed(int64_t id, const std::string& txid, const std::string& raw_tx, Amount fee) {
  if (txid.empty()) throw StoreError("store: a signed payment needs its transaction id");
  if (fee < 0) throw StoreError("store: negative payment fee");
  transition(
      id, PaymentState::signed_tx,
      [&](Conn& c, Payment&) {
        c.query("UPDATE payments SET txid = ?, raw_tx = ?, fee = ?, reason = '' WHERE id = ?", {txid, raw_tx, fee, id});
      },
      "txid " + txid + " fee " + std::to_string(fee));
}

void SqlStore::payment_broadcast(int64_t id) {
  transition(id, PaymentState::broadcast, [&](Conn& c, Payment&) {
    c.query("UPDATE payments SET reason = '' WHERE id = ?", {id});
  }, "");
}

void SqlStore::payment_confirmed(int64_t id) {
  transition(
      id, PaymentState::confirmed,
      [&](Conn& c, Payment& p) {
        for (const auto& o : p.outputs) adjust(c, p.coin, o.account, 0, 0, -o.amount, o.amount);
      },
      "");
}

void SqlStore::payment_failed(int64_t id, const std::string& reason) {
  transition(
      id, PaymentState::failed,
      [&](Conn& c, Payment& p) {
        for (const auto& o : p.outputs) adjust(c, p.coin, o.account, 0, o.amount, -o.amount, 0);
        c.query("UPDATE payments SET reason = ? WHERE id = ?", {reason, id});
      },
      reason);
}

void SqlStore::payment_note(int64_t id, const std::string& reason) {
  transaction([&](Conn& c) {
    auto r = c.query("UPDATE payments SET reason = ?, updated_ms = ? WHERE id = ?", {reason, now_ms(), id});
    if (r.affected == 0) throw StoreError("store: no payment " + std::to_string(id));
  });
}

std::optional<Payment> SqlStore::payment(int64_t id) {
  std::optional<Payment> out;
  transaction([&](Conn& c) {
    if (!c.query("SELECT 1 FROM payments WHERE id = ?", {id}).rows.empty()) out = load_payment(c, id);
  });
  return out;
}

std::vector<Payment> SqlStore::payments(const std::string& coin, std::optional<PaymentState> state) {
  std::vector<Payment> out;
  transaction([&](Conn& c) {
    std::string sql = "SELECT id FROM payments WHERE coin = ?";
    std::vector<Value> p{coin};
    if (state) {
      sql += " AND state = ?";
      p.push_back(std::string(to_string(*state)));
    }
    sql += " ORDER BY id";
    for (const auto& row : c.query(sql, p).rows) out.push_back(load_payment(c, row.i64(0)));
  });
  return out;
}

std::vector<AuditEntry> SqlStore::audit_log(const std::string& coin, size_t limit) {
  std::vector<AuditEntry> out;
  transaction([&](Conn& c) {
    auto r = c.query(
        "SELECT id, time_ms, coin, action, subject, amount, detail FROM audit_log WHERE coin = ? ORDER BY id DESC LIMIT ?",
        {coin, int64_t(std::min<size_t>(limit, INT64_MAX))});
    for (const auto& row : r.rows)
      out.push_back(AuditEntry{row.i64(0), row.i64(1), row.str(2), row.str(3), row.str(4), row.i64(5), row.str(6)});
  });
  return out;
}

// ---- open -------------------------------------------------------------------------------------

Options options_from_config(const config::Config& config) {
  Options o;
  o.driver = config.storage.driver == config::StorageDriver::postgres ? Driver::postgres : Driver::sqlite;
  o.path = config.storage.path.empty() ? (std::filesystem::path(config.app.data_dir) / "otedama.db").string()
                                       : config.storage.path;
  o.dsn = config.storage.dsn;
  return o;
}

std::unique_ptr<Store> open(const Options& options) {
  if (options.driver == Driver::sqlite) return open_sqlite(options);
  return open_postgres(options);
}

}  // namespace otedama::store
