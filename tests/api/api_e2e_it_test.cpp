// Every endpoint against a real node: `otedama serve` as a scrypt pool on a litecoind regtest
// chain with its built-in CPU miner, so real shares and blocks flow. Shapes and values are
// checked against what litecoind and the miner say; /metrics parses strictly and its counters
// move as shares arrive; `otedama status` prints the /api/stats figures; login then stop/start
// changes the miner's state, with the audit log recording it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/exposition.h"
#include "http/http.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Ports {
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port();
};

json get_json(const std::string& url) {
  auto r = http::get(url);
  if (r.status != 200) throw std::runtime_error(url + ": HTTP " + std::to_string(r.status) + " " + r.body);
  return json::parse(r.body);
}

}  // namespace

TEST(ApiE2E, EndpointsWithRealSharesAndBlocks) {
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});
  TempDir dir;
  Ports n;
  std::string hash = api::hash_password("e2e-pass");
  std::string yaml =
      "app: {name: \"api-e2e\", mode: development, data_dir: \"" + (dir.path() / "data").string() + "\"}\n"
      "mining: {enable_cpu: true, cpu: {threads: 1}}\n"
      "pool:\n"
      "  coin: litecoin\n"
      "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
      "  payout_address: \"" + payout + "\"\n"
      "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
      "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 1s}\n"
      "api:\n"
      "  address: \"127.0.0.1:" + std::to_string(n.api) + "\"\n"
      "  auth: {users: [{name: admin, password_hash: \"" + hash + "\", role: admin}]}\n"
      "  rate_limit: {requests_per_second: 200, burst: 400}\n"
      "monitoring:\n"
      "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
      "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
  Process node({kBin, "serve", "--config", dir.file("node.yaml", yaml)}, dir.path());
  std::string api = "http://127.0.0.1:" + std::to_string(n.api);
  std::string metrics_url = "http://127.0.0.1:" + std::to_string(n.metrics) + "/metrics";
  ASSERT_TRUE(eventually([&] {
    try {
      return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", 1s).status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }, 30s)) << node.err();

  auto scrape = [&] { return parse_exposition(http::get(metrics_url).body); };
  double valid_before = scrape().sum("otedama_shares_total", {"result=\"valid\""});

  // Shares from the built-in miner: its worker appears with valid shares, and blocks are found.
  json workers;
  ASSERT_TRUE(eventually([&] {
    workers = get_json(api + "/api/workers");
    return !workers["workers"].empty() && workers["workers"][0]["shares"]["valid"].get<int>() >= 5 &&
           get_json(api + "/api/blocks")["total"].get<int>() >= 1;
  }, 90s, 500ms)) << workers.dump(2) << "\n" << node.err();
  const json& w = workers["workers"][0];
  EXPECT_EQ(w["miner"], payout);
  EXPECT_EQ(w["worker"], "local");
  EXPECT_EQ(w["pool"], "litecoin");
  EXPECT_EQ(w["coin"], "litecoin");
  EXPECT_GT(w["hashrate"]["1m"].get<double>(), 0);
  EXPECT_GT(w["difficulty"].get<double>(), 0);
  EXPECT_NEAR(w["last_share"].get<double>(), double(time(nullptr)), 30);

  json st = get_json(api + "/api/stats");
  ASSERT_EQ(st["pools"].size(), 1u);
  const json& p = st["pools"][0];
  EXPECT_EQ(p["coin"], "litecoin");
  EXPECT_EQ(p["miners"], 1);
  EXPECT_EQ(p["workers"], 1);
  EXPECT_GE(p["shares"]["valid"].get<int>(), 5);
  EXPECT_GE(p["blocks_found"].get<int>(), 1);
  EXPECT_NEAR(p["hashes_per_difficulty1"].get<double>(), 65537, 1);
  // The job's height is the tip's + 1 (blocks arrive quickly here, so allow one in between).
  EXPECT_NEAR(p["height"].get<double>(), std::stoi(ltc.cli({"getblockcount"})) + 1, 1.5);
  EXPECT_GT(p["network_difficulty"].get<double>(), 0);
  // The pool's estimate from shares and the miner's own count agree within the noise of a
  // minute of shares (vardiff aims at one share per second).
  EXPECT_EQ(st["miner"]["running"], true);
  ASSERT_TRUE(eventually([&] {  // the miner measures over its 5 s report interval
    st = get_json(api + "/api/stats");
    return st["miner"]["hashrate"].get<double>() > 0;
  }, 15s));
  double own = st["miner"]["hashrate"].get<double>(), pool_rate = st["pools"][0]["hashrate"]["1m"].get<double>();
  EXPECT_GT(own, 0);
  EXPECT_GT(pool_rate, own / 4) << "pool " << pool_rate << " H/s, miner " << own << " H/s";
  EXPECT_LT(pool_rate, own * 4) << "pool " << pool_rate << " H/s, miner " << own << " H/s";

  // Blocks: real hashes litecoind knows, accepted.
  json blocks;
  ASSERT_TRUE(eventually([&] {
    blocks = get_json(api + "/api/blocks?limit=5");
    return blocks["blocks"][0]["status"] == "accepted";
  }, 20s)) << blocks.dump(2);
  const json& b = blocks["blocks"][0];
  json chain_block = json::parse(ltc.cli({"getblock", b["hash"].get<std::string>()}));
  EXPECT_EQ(chain_block["height"], b["height"]);
  EXPECT_EQ(b["miner"], payout);
  EXPECT_EQ(b["coin"], "litecoin");
  EXPECT_GT(b["effort"].get<double>(), 0);
  EXPECT_EQ(get_json(api + "/api/blocks?coin=litecoin&page=1&limit=1")["blocks"].size(), 1u);
  EXPECT_EQ(http::get(api + "/api/blocks?coin=monero").status, 400u);

  // The miner's page, payments (none: no block has matured yet; tests/app/accounting_e2e_it_test.cpp pays).
  json m = get_json(api + "/api/miners/" + payout);
  EXPECT_EQ(m["address"], payout);
  EXPECT_EQ(m["workers"].size(), 1u);
  EXPECT_GE(m["shares"]["valid"].get<int>(), 5);
  EXPECT_EQ(get_json(api + "/api/payments")["total"], 0);
  EXPECT_EQ(http::get(api + "/api/miners/ltc1qnobodyhere").status, 404u);

  json status = get_json(api + "/api/status");
  EXPECT_EQ(status["mining"]["running"], true);
  EXPECT_EQ(status["coins"][0]["coin"], "litecoin");

  // /metrics: strict parse, the share counter moved, the stats gauges are there.
  auto e = scrape();
  EXPECT_GT(e.sum("otedama_shares_total", {"result=\"valid\""}), valid_before);
  EXPECT_GT(e.sum("otedama_pool_hashrate_hashes_per_second", {"window=\"1m\"", "coin=\"litecoin\""}), 0);
  EXPECT_EQ(e.types["otedama_pool_hashrate_hashes_per_second"], "gauge");
  EXPECT_EQ(e.types["otedama_share_check_seconds"], "histogram");
  EXPECT_GE(e.sum("otedama_blocks_found_total"), 1);
  EXPECT_EQ(e.sum("otedama_miner_running"), 1);

  // otedama status: the table and --json.
  auto table = run({kBin, "status", "--api", api}, dir.path());
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("POOL"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("kH/s"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("cpu miner  running"), std::string::npos) << table.out;
  auto js = run({kBin, "status", "--api", api, "--json"}, dir.path());
  ASSERT_EQ(js.code, 0);
  EXPECT_GE(json::parse(js.out)["stats"]["pools"][0]["shares"]["valid"].get<int>(), 5);

  // Control: refused without a token; login, stop, start.
  EXPECT_EQ(http::request("POST", api + "/api/mining/stop").status, 401u);
  auto login = http::request("POST", api + "/api/auth/login", R"({"username":"admin","password":"e2e-pass"})");
  ASSERT_EQ(login.status, 200u) << login.body;
  std::vector<std::pair<std::string, std::string>> bearer = {{"Authorization", "Bearer " + json::parse(login.body)["token"].get<std::string>()}};
  auto stop = http::request("POST", api + "/api/mining/stop", "", bearer);
  ASSERT_EQ(stop.status, 200u) << stop.body;
  EXPECT_EQ(json::parse(stop.body)["miner"]["running"], false);
  EXPECT_EQ(get_json(api + "/api/status")["mining"]["running"], false);
  // No more shares from it: the valid count settles.
  std::this_thread::sleep_for(1500ms);
  int settled = get_json(api + "/api/stats")["pools"][0]["shares"]["valid"];
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(get_json(api + "/api/stats")["pools"][0]["shares"]["valid"].get<int>(), settled);
  auto start = http::request("POST", api + "/api/mining/start", "", bearer);
  ASSERT_EQ(start.status, 200u) << start.body;
  EXPECT_TRUE(eventually([&] { return get_json(api + "/api/stats")["pools"][0]["shares"]["valid"].get<int>() > settled; }, 30s));

  std::string audit = read_file(dir.path() / "data" / "audit.log");
  EXPECT_NE(audit.find("\"action\":\"mining.stop\",\"detail\":\"this endpoint needs a bearer token"), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"action\":\"login\",\"detail\":\"\",\"ip\":\"127.0.0.1\",\"ok\":true"), std::string::npos) << audit;

  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(10s), 0) << node.err();
}
