// A share the miner was told is accepted is never lost to a killed process: Stratum v1
// clients submit as fast as the pool answers, the node is killed with SIGKILL mid-storm, and
// every share the clients saw acknowledged is in the store afterwards; the node then restarts
// on the same store. (The pool answers "true" only once the share's batch is committed.) After
// the restart, every account's balance equals a recomputation from what the store holds: on
// regtest about every other share is a block, so the kill lands among block writes too, and a
// block is stored with its credits in one transaction, after every share of its window.
#include <gtest/gtest.h>

#include <sstream>

#include <atomic>
#include <map>
#include <span>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <iostream>
#include <thread>

#include "accounting/accounting.h"
#include "http/http.h"
#include "store/store.h"
#include "support/line_client.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Ports {
  uint16_t stratum = free_port(), api = free_port(), health = free_port();
};

std::string node_config(const Ports& n, const Litecoind& ltc, const std::string& payout, const TempDir& dir) {
  return "app: {name: \"durable\", mode: development, data_dir: \"" + (dir.path() / "data").string() + "\"}\n"
         "logging: {level: info}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: litecoin\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
         "  difficulty: {initial: 0.001, min: 0.0000000002328306436538696, target_share_time: 60s}\n"
         "  payouts: {enabled: false}\n"
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\", rate_limit: {enabled: false}}\n"
         "monitoring:\n"
         "  metrics: {enabled: false}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
}

bool ready(const Ports& n) {
  try {
    return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", std::chrono::seconds(1)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// Submits shares (any nonce meets a 2^-32 difficulty) with up to 32 in flight; counts "true"s.
void storm(uint16_t port, const std::string& worker, std::atomic<bool>& stop, std::atomic<int64_t>& acked) {
  LineClient c(port);
  json sub = c.call("mining.subscribe", {"storm/1"});
  json auth = c.call("mining.authorize", {worker + "+0.0000000002328306436538696", "x"});
  if (!auth["result"].is_boolean() || !auth["result"].get<bool>()) return;
  auto notify = c.note("mining.notify", 5000);
  if (!notify) return;
  std::string job = (*notify)["params"][0], ntime = (*notify)["params"][7];
  int in_flight = 0, next_id = 1000;
  uint64_t en2 = 0;
  // At most 500 submits/s per connection: the server disconnects a client that sends more than
  // 1000 messages/s (flood limit), and a storm is about load, not about that limit.
  auto start = std::chrono::steady_clock::now();
  auto paced = [&] {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return double(en2) < 500.0 * s + 32;
  };
  while (!stop) {
    while (in_flight < 32 && paced()) {
      char e[17];
      std::snprintf(e, sizeof e, "%016llx", (unsigned long long)++en2);
      c.send({{"id", next_id++}, {"method", "mining.submit"}, {"params", {worker, job, e, ntime, "00000000"}}});
      ++in_flight;
    }
    if (in_flight == 0) {  // ahead of the pace
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    auto reply = c.next(2000);
    if (!reply) return;  // the node is gone
    if (!reply->contains("id") || (*reply)["id"].is_null()) {
      if (reply->value("method", "") == "mining.notify") job = (*reply)["params"][0], ntime = (*reply)["params"][7];
      continue;
    }
    --in_flight;
    if ((*reply)["result"] == true) ++acked;
    else if (std::getenv("STORM_DEBUG")) std::cerr << reply->dump() << "\n";
  }
}

TEST(ShareDurability, EveryAcknowledgedShareSurvivesAKill) {
  TempDir dir;
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});
  Ports n;
  std::string cfg = dir.file("node.yaml", node_config(n, ltc, payout, dir));
  auto node = std::make_unique<Process>(std::vector<std::string>{kBin, "serve", "--config", cfg}, dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << node->err();

  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked{0};
  std::vector<std::thread> miners;
  // Three accounts, so that each block's split depends on which shares its window holds.
  std::vector<std::string> accounts;
  for (int i = 0; i < 3; ++i) accounts.push_back(ltc.cli({"getnewaddress", "", "bech32"}));
  for (int i = 0; i < 3; ++i)
    miners.emplace_back([&, i] { storm(n.stratum, accounts[size_t(i)] + ".storm" + std::to_string(i), stop, acked); });
  // Stop the storm before leaving, also when an assertion fails (a running std::thread aborts).
  auto join_miners = [&] {
    stop = true;
    for (auto& t : miners)
      if (t.joinable()) t.join();
  };
  struct Joiner {
    std::function<void()> f;
    ~Joiner() { f(); }
  } joiner{join_miners};
  // Regtest's target takes about every other share as a block, so jobs turn over constantly and
  // many submits come back stale: a few hundred acknowledged shares make the storm.
  ASSERT_TRUE(eventually([&] { return acked.load() >= 400; }, std::chrono::seconds(60))) << acked.load();
  // Blocks reach the store within a second of being found (the accounting thread): kill once some
  // are stored and more are being written, so the kill can land among block writes.
  auto stored_blocks = [&] {
    try {
      auto r = http::get("http://127.0.0.1:" + std::to_string(n.api) + "/api/blocks", std::chrono::seconds(1));
      return r.status == 200 ? json::parse(r.body).value("total", 0) : 0;
    } catch (const std::exception&) {
      return 0;
    }
  };
  bool blocks_stored = eventually([&] { return stored_blocks() >= 5; }, std::chrono::seconds(60),
                                  std::chrono::milliseconds(250));
  ASSERT_TRUE(blocks_stored) << node->err();
  int64_t more = acked.load() + 200;
  ASSERT_TRUE(eventually([&] { return acked.load() >= more; }, std::chrono::seconds(30)))
      << acked.load() << "\n" << [&] {  // the pool's own warnings and errors say why the storm stopped
           std::string all = node->err(), out;
           std::istringstream in(all);
           for (std::string line; std::getline(in, line);)
             if ((line.find(" pool ") != std::string::npos || line.find("stratum") != std::string::npos) && line.find(" debug ") == std::string::npos &&
                 line.find("meets the network") == std::string::npos && line.find("accepted by") == std::string::npos &&
                 line.find("rejected by the daemon") == std::string::npos)
               out += line + "\n";
           return out.substr(0, 6000);
         }();
  node->signal(SIGKILL);  // mid-storm: shares in flight, a batch being written
  node->wait(std::chrono::seconds(10));
  join_miners();
  int64_t seen = acked.load();

  store::Options so;
  so.path = (dir.path() / "data" / "otedama.db").string();
  {
    auto db = store::open(so);
    int64_t stored = db->share_count("litecoin");
    EXPECT_GE(stored, seen) << "acknowledged " << seen << ", stored " << stored;
    std::cout << "acknowledged " << seen << " shares, " << stored << " in the store after SIGKILL\n";
  }

  // The node starts again on the same store and keeps recording.
  node = std::make_unique<Process>(std::vector<std::string>{kBin, "serve", "--config", cfg}, dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << node->err();
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(std::chrono::seconds(15)), 0) << node->err();

  // Balances recomputed from the stored shares and blocks with the pure accounting functions:
  // the pool is PPLNT (2 h) with a 1 % fee (the defaults), and a block's window is every share
  // stored up to its time (docs/storage.md).
  auto db = store::open(so);
  auto shares = db->shares("litecoin", 0, 10'000'000);
  auto blocks = db->blocks("litecoin", std::nullopt, 1'000'000);
  ASSERT_FALSE(blocks.empty());
  std::vector<accounting::Share> all;
  for (const auto& s : shares) {
    if (!all.empty()) ASSERT_GE(s.share.time_ms, all.back().time_ms) << "share " << s.id << " stored out of time order";
    all.push_back({s.share.account, accounting::work_from_difficulty(s.share.difficulty / 65536), s.share.time_ms});
  }
  accounting::WindowSpec spec;
  spec.duration = std::chrono::hours(2);
  auto fee = accounting::fee_from_percentage(1.0);
  std::vector<accounting::LedgerEntry> ledger;
  std::unordered_map<std::string, accounting::BlockStatus> status;
  for (const auto& b : blocks) {
    EXPECT_TRUE(b.credited) << "block " << b.hash << " stored without its credits";
    status[b.hash] = b.status == store::BlockStatus::confirmed  ? accounting::BlockStatus::confirmed
                     : b.status == store::BlockStatus::orphaned ? accounting::BlockStatus::orphaned
                                                                : accounting::BlockStatus::pending;
    size_t end = 0;
    while (end < all.size() && all[end].time_ms <= b.time_ms) ++end;
    ASSERT_GT(end, 0u) << "block " << b.hash << " has no share before it";
    auto payout = accounting::pplns(std::span(all.data(), end), spec, b.reward, fee, b.time_ms);
    for (const auto& c : payout.credits)
      if (c.amount > 0) ledger.push_back({c.account, b.hash, c.amount, false});
  }
  std::map<std::string, std::pair<int64_t, int64_t>> expected, stored;  // account -> (pending, payable)
  for (const auto& a : accounting::balances(ledger, status))
    if (a.pending || a.payable) expected[a.account] = {a.pending, a.payable};
  for (const auto& b : db->balances("litecoin")) {
    EXPECT_EQ(b.reserved + b.paid, 0) << b.account;  // payouts are off
    if (b.pending || b.payable) stored[b.account] = {b.pending, b.payable};
  }
  EXPECT_GE(expected.size(), 2u);
  EXPECT_EQ(stored, expected);
  std::cout << blocks.size() << " blocks, " << shares.size() << " shares: balances of " << stored.size()
            << " accounts equal the recomputation\n";
}

}  // namespace
