// A share the miner was told is accepted is never lost to a killed process: Stratum v1
// clients submit as fast as the pool answers, the node is killed with SIGKILL mid-storm, and
// every share the clients saw acknowledged is in the store afterwards; the node then restarts
// on the same store. (The pool answers "true" only once the share's batch is committed.)
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <iostream>
#include <thread>

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
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\"}\n"
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
  while (!stop) {
    while (in_flight < 32) {
      char e[17];
      std::snprintf(e, sizeof e, "%016llx", (unsigned long long)++en2);
      c.send({{"id", next_id++}, {"method", "mining.submit"}, {"params", {worker, job, e, ntime, "00000000"}}});
      ++in_flight;
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
  for (int i = 0; i < 3; ++i)
    miners.emplace_back([&, i] { storm(n.stratum, payout + ".storm" + std::to_string(i), stop, acked); });
  // Regtest's target takes about every other share as a block, so jobs turn over constantly and
  // many submits come back stale: a few hundred acknowledged shares make the storm.
  ASSERT_TRUE(eventually([&] { return acked.load() >= 400; }, std::chrono::seconds(60))) << acked.load();
  node->signal(SIGKILL);  // mid-storm: shares in flight, a batch being written
  node->wait(std::chrono::seconds(10));
  stop = true;
  for (auto& t : miners) t.join();
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
}

}  // namespace
