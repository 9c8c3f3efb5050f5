// The same store suite on SQLite and on a real PostgreSQL 15 (a throwaway cluster started by
// tests/support/postgres.h), plus the failure paths: a PostgreSQL restart during share flow,
// a schema newer than the code, a writer killed with SIGKILL.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cmath>
#include <set>
#include <thread>

#include "support/postgres.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::store;
using namespace std::chrono_literals;

namespace {

// One cluster for the whole program (initdb takes a second or two); a database per test.
struct PgEnv {
  test::TempDir dir;
  std::unique_ptr<test::PostgresCluster> cluster;
};
// Destroyed at exit (server stopped, directory removed), even when tests failed; a killed
// test takes the server with it (PDEATHSIG).
PgEnv& pg() {
  static std::unique_ptr<PgEnv> env = [] {
    auto e = std::make_unique<PgEnv>();
    e->cluster = std::make_unique<test::PostgresCluster>(e->dir.path());
    return e;
  }();
  return *env;
}

class StoreTest : public ::testing::TestWithParam<Driver> {
 protected:
  void SetUp() override {
    opts_.driver = GetParam();
    opts_.reconnect_min = 20ms;
    opts_.reconnect_max = 200ms;
    if (GetParam() == Driver::sqlite) {
      opts_.path = (dir_.path() / "data" / "otedama.db").string();
    } else {
      opts_.dsn = pg().cluster->create_database();
    }
  }

  std::unique_ptr<Store> open_store() { return store::open(opts_); }

  // Raw SQL against the database, bypassing the store.
  void raw_sql(const std::string& sql) {
    if (GetParam() == Driver::sqlite) {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(opts_.path.c_str(), &db), SQLITE_OK);
      char* err = nullptr;
      int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
      std::string msg = err ? err : "";
      sqlite3_free(err);
      sqlite3_close(db);
      ASSERT_EQ(rc, SQLITE_OK) << msg;
    } else {
      pg().cluster->sql(sql, opts_.dsn.substr(opts_.dsn.rfind('/') + 1));
    }
  }

  static Share share(const std::string& coin, const std::string& account, const std::string& worker, double diff,
                     int64_t t, int64_t height = 100) {
    return Share{coin, account, worker, diff, t, height, false};
  }

  test::TempDir dir_;
  Options opts_;
};

std::string name_of(const ::testing::TestParamInfo<Driver>& info) {
  return info.param == Driver::sqlite ? "sqlite" : "postgres";
}

TEST_P(StoreTest, CreatesSchemaOnFirstOpenAndReopens) {
  {
    auto s = open_store();
    EXPECT_EQ(s->driver(), GetParam());
    EXPECT_EQ(s->schema_version(), kSchemaVersion);
    s->record_share(share("litecoin", "A", "rig1", 1.5, 1000));
    EXPECT_TRUE(s->flush(10s));
  }
  if (GetParam() == Driver::sqlite) EXPECT_TRUE(std::filesystem::exists(opts_.path));
  auto s = open_store();
  EXPECT_EQ(s->schema_version(), kSchemaVersion);
  EXPECT_EQ(s->share_count("litecoin"), 1);
}

TEST_P(StoreTest, RecordsSharesInOrderWithWorkers) {
  auto s = open_store();
  const int n = 20000;
  uint64_t last = 0;
  for (int i = 0; i < n; ++i) {
    std::string coin = i % 4 == 0 ? "monero" : "litecoin";
    last = s->record_share(share(coin, "acct" + std::to_string(i % 7), "rig" + std::to_string(i % 3), 0.25 + i % 5,
                                 1'700'000'000'000 + i, 1000 + i / 100));
    EXPECT_EQ(last, uint64_t(i + 1));
  }
  ASSERT_TRUE(s->flush(30s)) << s->writer_stats().last_error;
  EXPECT_EQ(s->durable_seq(), last);
  EXPECT_EQ(s->share_count("monero"), n / 4);
  EXPECT_EQ(s->share_count("litecoin"), n - n / 4);
  EXPECT_EQ(s->share_count("bitcoin"), 0);

  auto got = s->shares("monero", 0, 1'000'000);
  ASSERT_EQ(got.size(), size_t(n / 4));
  for (size_t k = 0; k < got.size(); ++k) {
    int i = int(k) * 4;
    EXPECT_EQ(got[k].share.account, "acct" + std::to_string(i % 7));
    EXPECT_EQ(got[k].share.worker, "rig" + std::to_string(i % 3));
    EXPECT_DOUBLE_EQ(got[k].share.difficulty, 0.25 + i % 5);
    EXPECT_EQ(got[k].share.time_ms, 1'700'000'000'000 + i);
    EXPECT_EQ(got[k].share.height, 1000 + i / 100);
    if (k > 0) EXPECT_GT(got[k].id, got[k - 1].id);
  }
  // Paging by id.
  auto page = s->shares("monero", got[99].id, 10);
  ASSERT_EQ(page.size(), 10u);
  EXPECT_EQ(page[0].id, got[100].id);
  // Time window.
  auto recent = s->shares_since("litecoin", 1'700'000'000'000 + n - 10);
  for (const auto& r : recent) EXPECT_GT(r.share.time_ms, 1'700'000'000'000 + n - 10);
  EXPECT_EQ(recent.size(), 7u);  // of the last 9 times, those not divisible by 4

  // Workers: per (coin, account, worker) counts and difficulty sums.
  auto workers = s->workers("litecoin");
  int64_t total = 0;
  double diff = 0;
  for (const auto& w : workers) {
    total += w.shares;
    diff += w.difficulty_sum;
    EXPECT_LE(w.first_seen_ms, w.last_seen_ms);
  }
  double expect_diff = 0;
  for (int i = 0; i < n; ++i)
    if (i % 4 != 0) expect_diff += 0.25 + i % 5;
  EXPECT_EQ(total, n - n / 4);
  EXPECT_NEAR(diff, expect_diff, 1e-6);
  EXPECT_EQ(workers.size(), 21u);  // 7 accounts x 3 rigs
}

TEST_P(StoreTest, DurabilityWaitsAndCallbacks) {
  auto s = open_store();
  std::atomic<int> called{0};
  uint64_t seq = s->record_share(share("litecoin", "A", "", 1, 1));
  s->on_durable(seq, [&] { called++; });
  EXPECT_TRUE(s->wait_durable(seq, 10s));
  EXPECT_GE(s->durable_seq(), seq);
  EXPECT_TRUE(test::eventually([&] { return called.load() == 1; }, 5s));
  // Already durable: called at once.
  s->on_durable(seq, [&] { called++; });
  EXPECT_EQ(called.load(), 2);
  // A sequence number never handed out is never durable.
  EXPECT_FALSE(s->wait_durable(seq + 100, 50ms));
  auto st = s->writer_stats();
  EXPECT_EQ(st.recorded, seq);
  EXPECT_GE(st.batches, 1u);
}

TEST_P(StoreTest, RejectsSharesItCannotStore) {
  auto s = open_store();
  EXPECT_THROW(s->record_share(share("", "A", "", 1, 1)), std::invalid_argument);
  EXPECT_THROW(s->record_share(share("litecoin", "", "", 1, 1)), std::invalid_argument);
  EXPECT_THROW(s->record_share(share("litecoin", "A", "", 0, 1)), std::invalid_argument);
  EXPECT_THROW(s->record_share(share("litecoin", "A", "", std::nan(""), 1)), std::invalid_argument);
  EXPECT_THROW(s->record_share(share("litecoin", "A", "", INFINITY, 1)), std::invalid_argument);
  EXPECT_THROW(s->record_share(share("litecoin", "A", std::string("r\0g", 3), 1, 1)), std::invalid_argument);
  EXPECT_THROW(s->record_share(share("litecoin", "A", "\xff\xfe", 1, 1)), std::invalid_argument);
  // Awkward but valid text goes through unchanged (tabs, newlines, backslashes, quotes, UTF-8).
  std::string odd = "r\tig\n\\N'\";\r 日本";
  s->record_share(share("litecoin", "Ltc1q\\x", odd, 2, 5));
  ASSERT_TRUE(s->flush(10s));
  auto got = s->shares("litecoin", 0, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].share.worker, odd);
  EXPECT_EQ(got[0].share.account, "Ltc1q\\x");
  s->close(1s);
  EXPECT_THROW(s->record_share(share("litecoin", "A", "", 1, 1)), StoreError);
}

TEST_P(StoreTest, BlockCreditsMatureOrReverse) {
  auto s = open_store();
  Block b{"litecoin", 500, "hash-a", 1'000'000, "A", BlockStatus::pending, 0, 0, false};
  EXPECT_TRUE(s->add_block(b));
  EXPECT_FALSE(s->add_block(b));  // the same block again: left as it is
  Block b2 = b;
  b2.hash = "hash-b";
  b2.height = 501;
  EXPECT_TRUE(s->add_block(b2));

  EXPECT_THROW(s->credit_block("litecoin", "hash-a", {{"A", 900'000}, {"B", 200'000}}), StoreError);  // > reward
  EXPECT_THROW(s->credit_block("litecoin", "hash-a", {{"A", 0}}), StoreError);
  EXPECT_THROW(s->credit_block("litecoin", "nope", {{"A", 1}}), StoreError);
  s->credit_block("litecoin", "hash-a", {{"A", 600'000}, {"B", 390'000}});
  EXPECT_THROW(s->credit_block("litecoin", "hash-a", {{"A", 1}}), StoreError);  // no double credit
  s->credit_block("litecoin", "hash-b", {{"A", 500'000}, {"C", 490'000}});

  EXPECT_EQ(s->balance("litecoin", "A").pending, 1'100'000);
  EXPECT_EQ(s->balance("litecoin", "A").payable, 0);
  EXPECT_EQ(s->balance("monero", "A").pending, 0);  // per coin

  s->set_block_confirmations("litecoin", "hash-a", 42);
  EXPECT_EQ(s->block("litecoin", "hash-a")->confirmations, 42);
  s->confirm_block("litecoin", "hash-a", 100);
  s->confirm_block("litecoin", "hash-a", 101);  // idempotent
  s->orphan_block("litecoin", "hash-b", "invalidated at height 501");
  EXPECT_THROW(s->orphan_block("litecoin", "hash-a", "x"), StoreError);  // confirmed stays
  EXPECT_THROW(s->confirm_block("litecoin", "hash-b", 100), StoreError);

  auto a = s->balance("litecoin", "A");
  EXPECT_EQ(a.pending, 0);
  EXPECT_EQ(a.payable, 600'000);
  EXPECT_EQ(s->balance("litecoin", "B").payable, 390'000);
  EXPECT_EQ(s->balance("litecoin", "C").payable, 0);
  EXPECT_EQ(s->balance("litecoin", "C").pending, 0);

  auto blk = s->block("litecoin", "hash-a");
  ASSERT_TRUE(blk);
  EXPECT_EQ(blk->status, BlockStatus::confirmed);
  EXPECT_EQ(blk->confirmations, 101);
  EXPECT_TRUE(blk->credited);
  EXPECT_EQ(blk->reward, 1'000'000);
  EXPECT_EQ(blk->finder, "A");
  EXPECT_EQ(s->block("litecoin", "hash-b")->status, BlockStatus::orphaned);
  EXPECT_EQ(s->blocks("litecoin", std::nullopt, 10).size(), 2u);
  EXPECT_EQ(s->blocks("litecoin", BlockStatus::orphaned, 10).at(0).hash, "hash-b");
  EXPECT_EQ(s->blocks("litecoin", std::nullopt, 10).at(0).height, 501);  // newest first

  auto log = s->audit_log("litecoin", 100);
  std::vector<std::string> actions;
  for (auto& e : log) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"block_orphaned", "block_confirmed", "block_credited", "block_credited",
                                               "block_found", "block_found"}));
  EXPECT_EQ(log[0].amount, 990'000);
  EXPECT_EQ(log[0].detail, "invalidated at height 501");
}

TEST_P(StoreTest, BlockAndItsCreditsAreOneTransaction) {
  auto s = open_store();
  Block b{"litecoin", 600, "hash-r", 1'000'000, "A", BlockStatus::pending, 0, 0, false};
  // Credits over the reward: neither the block nor any credit is stored.
  EXPECT_THROW(s->record_block(b, {{"A", 900'000}, {"B", 200'000}}), StoreError);
  EXPECT_FALSE(s->block("litecoin", "hash-r"));
  EXPECT_EQ(s->balance("litecoin", "A").pending, 0);
  EXPECT_THROW(s->record_block(b, {{"A", 0}}), StoreError);
  EXPECT_FALSE(s->block("litecoin", "hash-r"));

  EXPECT_TRUE(s->record_block(b, {{"A", 600'000}, {"B", 390'000}}));
  auto stored = s->block("litecoin", "hash-r");
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->credited);
  EXPECT_EQ(s->balance("litecoin", "A").pending, 600'000);
  EXPECT_EQ(s->balance("litecoin", "B").pending, 390'000);
  // Again (a retried flush): nothing twice.
  EXPECT_FALSE(s->record_block(b, {{"A", 600'000}, {"B", 390'000}}));
  EXPECT_EQ(s->balance("litecoin", "A").pending, 600'000);

  // A block row left uncredited (by an older version killed between its two writes) gets its
  // credits; a PPS block (no credits) stays uncredited.
  Block old{"litecoin", 601, "hash-s", 500, "C", BlockStatus::pending, 0, 0, false};
  ASSERT_TRUE(s->add_block(old));
  EXPECT_FALSE(s->record_block(old, {{"C", 495}}));
  EXPECT_TRUE(s->block("litecoin", "hash-s")->credited);
  EXPECT_EQ(s->balance("litecoin", "C").pending, 495);
  Block pps{"litecoin", 602, "hash-t", 700, "D", BlockStatus::pending, 0, 0, false};
  EXPECT_TRUE(s->record_block(pps, {}));
  EXPECT_FALSE(s->block("litecoin", "hash-t")->credited);
  // Orphaned blocks are never credited late.
  s->orphan_block("litecoin", "hash-t", "gone");
  EXPECT_FALSE(s->record_block(pps, {{"D", 1}}));
  EXPECT_EQ(s->balance("litecoin", "D").pending, 0);
}

TEST_P(StoreTest, RewardTotalsSumBlocksByStatusAndCreditsByKind) {
  auto s = open_store();
  RewardTotals empty = s->reward_totals("litecoin");
  EXPECT_EQ(empty.blocks_pending + empty.blocks_confirmed + empty.blocks_orphaned, 0);
  EXPECT_EQ(empty.share_credits, 0);
  s->record_block(Block{"litecoin", 1, "h1", 1000, "A", BlockStatus::pending, 0, 0, false}, {});
  s->record_block(Block{"litecoin", 2, "h2", 2000, "A", BlockStatus::pending, 0, 0, false}, {});
  s->record_block(Block{"litecoin", 3, "h3", 4000, "A", BlockStatus::pending, 0, 0, false}, {{"A", 3000}});
  s->record_block(Block{"litecoin", 4, "h4", 8000, "A", BlockStatus::pending, 0, 0, false}, {{"B", 7000}});
  s->record_block(Block{"monero", 1, "x1", 99, "A", BlockStatus::pending, 0, 0, false}, {});
  s->confirm_block("litecoin", "h2", 100);
  s->confirm_block("litecoin", "h3", 100);
  s->orphan_block("litecoin", "h4", "gone");
  s->credit_payable("litecoin", {{"A", 150}, {"B", 250}}, "pps");
  s->credit_payable("monero", {{"A", 7}}, "pps");
  auto t = s->reward_totals("litecoin");
  EXPECT_EQ(t.blocks_pending, 1000);
  EXPECT_EQ(t.pending_count, 1);
  EXPECT_EQ(t.blocks_confirmed, 6000);
  EXPECT_EQ(t.confirmed_count, 2);
  EXPECT_EQ(t.blocks_orphaned, 8000);
  EXPECT_EQ(t.orphaned_count, 1);
  EXPECT_EQ(t.share_credits, 400);
  EXPECT_EQ(t.block_credits, 3000);  // h4's credit was reversed
  EXPECT_EQ(s->reward_totals("monero").share_credits, 7);
  EXPECT_EQ(s->reward_totals("monero").blocks_pending, 99);
}

TEST_P(StoreTest, PaymentStateMachine) {
  auto s = open_store();
  s->credit_payable("litecoin", {{"A", 5000}, {"B", 3000}}, "pps");
  EXPECT_EQ(s->balance("litecoin", "A").payable, 5000);

  // Short on B: nothing changes.
  EXPECT_THROW(s->create_payment("litecoin", {{"A", "addrA", 1000}, {"B", "addrB", 3001}}), StoreError);
  EXPECT_EQ(s->balance("litecoin", "A").payable, 5000);
  EXPECT_TRUE(s->payments("litecoin", std::nullopt).empty());
  EXPECT_THROW(s->create_payment("litecoin", {}), StoreError);
  EXPECT_THROW(s->create_payment("litecoin", {{"A", "", 1}}), StoreError);

  int64_t id = s->create_payment("litecoin", {{"A", "addrA", 4000}, {"B", "addrB", 3000}});
  auto a = s->balance("litecoin", "A");
  EXPECT_EQ(a.payable, 1000);
  EXPECT_EQ(a.reserved, 4000);
  // Reserved money cannot be paid twice.
  EXPECT_THROW(s->create_payment("litecoin", {{"B", "addrB", 1}}), StoreError);

  EXPECT_THROW(s->payment_broadcast(id), StoreError);  // not signed yet
  s->payment_note(id, "wallet locked");
  EXPECT_EQ(s->payment(id)->reason, "wallet locked");
  EXPECT_EQ(s->payment(id)->state, PaymentState::intended);
  s->payment_signed(id, "txid1", "rawhex", 120);
  EXPECT_THROW(s->payment_signed(id, "txid2", "", 1), StoreError);
  s->payment_broadcast(id);
  s->payment_confirmed(id);
  EXPECT_THROW(s->payment_failed(id, "late"), StoreError);  // confirmed is final

  auto p = s->payment(id);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, PaymentState::confirmed);
  EXPECT_EQ(p->txid, "txid1");
  EXPECT_EQ(p->raw_tx, "rawhex");
  EXPECT_EQ(p->fee, 120);
  EXPECT_EQ(p->reason, "");
  ASSERT_EQ(p->outputs.size(), 2u);
  EXPECT_EQ(p->total(), 7000);
  a = s->balance("litecoin", "A");
  EXPECT_EQ(a.reserved, 0);
  EXPECT_EQ(a.paid, 4000);
  EXPECT_EQ(a.payable, 1000);

  // A failed payment gives the money back to payable.
  int64_t id2 = s->create_payment("litecoin", {{"A", "addrA", 1000}});
  s->payment_signed(id2, "txid3", "", 50);
  s->payment_failed(id2, "insufficient funds");
  EXPECT_EQ(s->payment(id2)->state, PaymentState::failed);
  EXPECT_EQ(s->payment(id2)->reason, "insufficient funds");
  EXPECT_EQ(s->balance("litecoin", "A").payable, 1000);
  EXPECT_EQ(s->balance("litecoin", "A").reserved, 0);
  EXPECT_EQ(s->payments("litecoin", PaymentState::failed).size(), 1u);
  EXPECT_EQ(s->payments("litecoin", std::nullopt).size(), 2u);
  EXPECT_FALSE(s->payment(999));
  EXPECT_THROW(s->payment_note(999, "x"), StoreError);

  auto log = s->audit_log("litecoin", 3);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].action, "payment_failed");
  EXPECT_EQ(log[0].detail, "insufficient funds");
  EXPECT_EQ(log[1].action, "payment_signed");
  EXPECT_EQ(log[2].action, "payment_intended");
}

TEST_P(StoreTest, RefusesSchemaNewerThanCode) {
  { auto s = open_store(); }
  raw_sql("INSERT INTO schema_version (version) VALUES (99)");
  try {
    open_store();
    FAIL() << "opened a schema newer than the code";
  } catch (const SchemaTooNewError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("version 99"), std::string::npos) << m;
    EXPECT_NE(m.find("upgrade otedama"), std::string::npos) << m;
  }
}

// A child process records shares and reports each durable sequence number on a pipe; it is
// SIGKILLed mid-stream. Every share it reported durable must be in the reopened store.
TEST_P(StoreTest, KilledWriterLosesNoDurableShare) {
  { auto s = open_store(); }  // schema first, so the child only writes shares
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    try {
      auto s = store::open(opts_);
      for (int64_t i = 1;; ++i) {
        uint64_t seq = s->record_share(share("litecoin", "A" + std::to_string(i % 5), "w", 1, i, i));
        if (i % 50 == 0 && s->wait_durable(seq, 10s)) {
          if (write(fds[1], &seq, sizeof seq) != sizeof seq) _exit(3);
        }
      }
    } catch (...) {
      _exit(2);
    }
  }
  ::close(fds[1]);
  uint64_t last = 0, v = 0;
  auto start = std::chrono::steady_clock::now();
  while (last < 3000 && std::chrono::steady_clock::now() - start < 30s) {
    if (read(fds[0], &v, sizeof v) != sizeof v) break;
    last = v;
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  while (read(fds[0], &v, sizeof v) == sizeof v) last = v;  // reports already in the pipe
  ::close(fds[0]);
  ASSERT_GE(last, 3000u) << "the child did not get far";

  auto s = open_store();
  auto got = s->shares("litecoin", 0, 100'000'000);
  std::set<int64_t> heights;
  for (const auto& g : got) heights.insert(g.share.height);
  EXPECT_EQ(heights.size(), got.size()) << "a share was stored twice";
  for (uint64_t i = 1; i <= last; ++i) ASSERT_TRUE(heights.count(int64_t(i))) << "durable share " << i << " lost";
}

TEST(StoreOptions, FromConfig) {
  test::TempDir dir;
  config::Config c;
  c.app.data_dir = (dir.path() / "node").string();
  auto o = options_from_config(c);
  EXPECT_EQ(o.driver, Driver::sqlite);
  EXPECT_EQ(o.path, (dir.path() / "node" / "otedama.db").string());
  c.storage.driver = config::StorageDriver::postgres;
  c.storage.dsn = "postgresql://x@127.0.0.1/db";
  o = options_from_config(c);
  EXPECT_EQ(o.driver, Driver::postgres);
  EXPECT_EQ(o.dsn, "postgresql://x@127.0.0.1/db");
}

INSTANTIATE_TEST_SUITE_P(Drivers, StoreTest, ::testing::Values(Driver::sqlite, Driver::postgres), name_of);

// ---- driver-specific failure paths ------------------------------------------------------------

TEST(SqliteStore, UnusablePathIsAClearError) {
  test::TempDir dir;
  std::string file = dir.file("not-a-db", "this is not an SQLite database, just text. " + std::string(4096, 'x'));
  Options o;
  o.path = file;
  try {
    store::open(o);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
  o.path = "";
  EXPECT_THROW(store::open(o), StoreError);
}

TEST(PostgresStore, UnreachableServerIsAClearErrorWithoutPassword) {
  Options o;
  o.driver = Driver::postgres;
  o.dsn = "postgresql://bob:s3cret@127.0.0.1:" + std::to_string(test::free_port()) + "/x";
  try {
    store::open(o);
    FAIL();
  } catch (const StoreError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cannot connect"), std::string::npos) << m;
    EXPECT_EQ(m.find("s3cret"), std::string::npos) << m;
  }
}

// The server restarts while shares keep coming: they are buffered, then written; none lost,
// none doubled; the synchronous calls fail clearly while it is down and work after.
TEST(PostgresStore, RestartDuringShareFlowLosesNothing) {
  auto& cluster = *pg().cluster;
  Options o;
  o.driver = Driver::postgres;
  o.dsn = cluster.create_database();
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  o.max_batch = 500;
  auto s = store::open(o);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> produced{0};
  std::thread producer([&] {
    for (int64_t i = 1; !stop; ++i) {
      s->record_share(Share{"litecoin", "A" + std::to_string(i % 9), "w", 2.0, i, i, false});
      produced = i;
      if (i % 20 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(test::eventually([&] { return s->durable_seq() > 2000; }, 30s));
  uint64_t before = s->durable_seq();
  cluster.stop();
  std::this_thread::sleep_for(300ms);  // shares keep arriving while the server is down
  EXPECT_THROW(s->add_block(Block{"litecoin", 1, "h", 1, "A", BlockStatus::pending, 0, 0, false}), StoreError);
  int64_t during = produced.load();
  cluster.start();
  ASSERT_TRUE(test::eventually([&] { return s->durable_seq() > uint64_t(during) + 500; }, 30s))
      << s->writer_stats().last_error;
  stop = true;
  producer.join();
  ASSERT_TRUE(s->flush(30s)) << s->writer_stats().last_error;
  EXPECT_GT(s->writer_stats().failures, 0u);  // it did see the outage
  EXPECT_GT(uint64_t(during), before);

  int64_t n = produced.load();
  EXPECT_EQ(s->share_count("litecoin"), n);
  auto got = s->shares("litecoin", 0, 100'000'000);
  std::set<int64_t> heights;
  for (const auto& g : got) heights.insert(g.share.height);
  EXPECT_EQ(heights.size(), size_t(n));
  EXPECT_EQ(*heights.begin(), 1);
  EXPECT_EQ(*heights.rbegin(), n);
  // Synchronous calls work again.
  EXPECT_TRUE(s->add_block(Block{"litecoin", 1, "h", 1, "A", BlockStatus::pending, 0, 0, false}));
}

}  // namespace
