// PPS end to end on litecoind regtest: `otedama serve` (scrypt pool, PPS, SQLite store) with one
// `otedama mine`. Every share is credited at once and the blocks are the pool's; the operator's
// running balance (matured block rewards minus share credits, pending rewards apart) is on
// /metrics as otedama_pps_operator_balance_atoms{coin,pool,state} and in /api/stats, and both
// equal what the store holds once the node stops: the blocks' rewards by status and the sum of
// the miners' balances (PPS credits are the only credits of a PPS pool).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "accounting/accounting.h"
#include "http/http.h"
#include "store/store.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Ports {
  uint16_t stratum = free_port(), api = free_port(), health = free_port(), metrics = free_port();
};

std::string node_config(const Ports& n, const Litecoind& ltc, const std::string& payout, const TempDir& dir) {
  return "app: {name: \"pps\", mode: development, data_dir: \"" + (dir.path() / "data").string() + "\"}\n"
         "logging: {level: info}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  name: ltcpps\n"
         "  coin: litecoin\n"
         "  fee_percentage: 2.0\n"
         "  rewards: {system: PPS}\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
         "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 2s}\n"
         "  payouts: {enabled: false}\n"
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\", rate_limit: {enabled: false}}\n"
         "monitoring:\n"
         "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
}

std::optional<double> gauge(const std::string& metrics, const std::string& state) {
  std::smatch m;
  std::regex re("otedama_pps_operator_balance_atoms\\{coin=\"litecoin\",pool=\"ltcpps\",state=\"" + state +
                "\"\\} ([-0-9.e+]+)");
  if (!std::regex_search(metrics, m, re)) return std::nullopt;
  return std::stod(m[1]);
}

}  // namespace

TEST(AccountingPpsE2E, OperatorBalanceIsRewardsMinusShareCredits) {
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"-rpcwallet=pool", "getnewaddress", "", "bech32"});
  std::string miner_address = ltc.cli({"-rpcwallet=pool", "getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});  // leave initial block download
  TempDir dir;
  Ports n;
  Process node({kBin, "serve", "--config", dir.file("node.yaml", node_config(n, ltc, payout, dir))}, dir.path());
  auto get = [&](uint16_t port, const std::string& path) {
    return http::get("http://127.0.0.1:" + std::to_string(port) + path, std::chrono::seconds(5)).body;
  };
  ASSERT_TRUE(eventually(
      [&] {
        try {
          return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", std::chrono::seconds(1)).status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(30)))
      << node.err();

  int start = std::stoi(ltc.cli({"getblockcount"}));
  {
    Process miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(n.stratum), "--user",
                   miner_address + ".rig", "--algo", "scrypt", "--threads", "1"},
                  dir.path());
    bool rose = eventually([&] { return std::stoi(ltc.cli({"getblockcount"})) >= start + 3; }, std::chrono::seconds(60));
    miner.signal(SIGTERM);
    miner.wait(std::chrono::seconds(10));
    ASSERT_TRUE(rose) << node.err() << miner.err();
  }
  // While the blocks are young: their rewards are pending, the share credits already count.
  ASSERT_TRUE(eventually(
      [&] {
        auto p = gauge(get(n.metrics, "/metrics"), "pending");
        return p && *p >= 3 * 50e8;
      },
      std::chrono::seconds(15)))
      << get(n.metrics, "/metrics");
  auto young = gauge(get(n.metrics, "/metrics"), "confirmed");
  ASSERT_TRUE(young);
  EXPECT_LT(*young, 0);  // nothing matured yet, the miner is owed: the operator is down

  // Maturity: the pool's blocks become confirmed rewards; nothing is pending any more.
  ltc.cli({"generatetoaddress", "100", payout});
  ASSERT_TRUE(eventually(
      [&] {
        auto p = gauge(get(n.metrics, "/metrics"), "pending");
        return p && *p == 0;
      },
      std::chrono::seconds(20)))
      << get(n.metrics, "/metrics");
  std::string metrics = get(n.metrics, "/metrics");
  double confirmed = gauge(metrics, "confirmed").value();
  json stats = json::parse(get(n.api, "/api/stats"));
  ASSERT_EQ(stats["pools"].size(), 1u);
  json ob = stats["pools"][0]["pps_operator_balance"];
  node.signal(SIGTERM);
  ASSERT_EQ(node.wait(std::chrono::seconds(15)), 0) << node.err();

  // ---- the store, read back after the node stopped -----------------------------------------
  store::Options so;
  so.path = (dir.path() / "data" / "otedama.db").string();
  auto db = store::open(so);
  int64_t rewards_confirmed = 0, rewards_pending = 0, blocks = 0;
  for (const auto& b : db->blocks("litecoin", std::nullopt, 1000)) {
    EXPECT_FALSE(b.credited) << b.hash;  // PPS: blocks credit nobody
    ++blocks;
    if (b.status == store::BlockStatus::confirmed) rewards_confirmed += b.reward;
    if (b.status == store::BlockStatus::pending) rewards_pending += b.reward;
  }
  EXPECT_GE(blocks, 3);
  EXPECT_EQ(rewards_pending, 0);
  int64_t credited = 0;
  for (const auto& b : db->balances("litecoin")) credited += b.pending + b.payable + b.reserved + b.paid;
  EXPECT_GT(credited, 0);
  EXPECT_GT(rewards_confirmed, 0);
  EXPECT_EQ(int64_t(confirmed), rewards_confirmed - credited);
  EXPECT_EQ(double(int64_t(confirmed)), confirmed);  // whole atomic units

  ASSERT_TRUE(ob.is_object()) << "pps_operator_balance missing from /api/stats (node.cpp wiring): " << stats.dump();
  EXPECT_EQ(ob["reward_system"], "PPS");
  EXPECT_EQ(std::llround(ob["confirmed"].get<double>() * 1e8), rewards_confirmed - credited) << ob.dump();
  EXPECT_EQ(std::llround(ob["rewards_confirmed"].get<double>() * 1e8), rewards_confirmed) << ob.dump();
  EXPECT_EQ(std::llround(ob["share_credits"].get<double>() * 1e8), credited) << ob.dump();
  EXPECT_EQ(ob["pending"].get<double>(), 0.0);
}
