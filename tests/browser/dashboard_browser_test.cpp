// The dashboard in a real browser (label browser): a node on a litecoind regtest chain with its
// built-in miner; chromium, driven by playwright-core (tests/browser/dashboard.mjs), checks that
// the page loads, the hashrate chart updates from the WebSocket, the workers table lists the
// miner, and login then stop/start changes the miner's state. Screenshots are saved under
// <build>/test-artifacts/browser/.
#include <gtest/gtest.h>

#include <filesystem>

#include "api/api.h"
#include "http/http.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using namespace std::chrono_literals;

TEST(DashboardBrowser, LiveChartsWorkersAndMinerControl) {
  std::string tools = std::string(OTEDAMA_SOURCE_DIR) + "/.tools";
  ASSERT_TRUE(std::filesystem::exists(tools + "/node_modules/playwright-core/package.json"))
      << "playwright-core is missing: run scripts/setup.sh";
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium")) << "chromium is missing: run scripts/setup.sh";
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});
  TempDir dir;
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port();
  std::string yaml =
      "app: {name: \"browser\", mode: development, data_dir: \"" + (dir.path() / "data").string() + "\"}\n"
      "mining: {enable_cpu: true, cpu: {threads: 1}}\n"
      "pool:\n"
      "  coin: litecoin\n"
      "  address: \"127.0.0.1:" + std::to_string(stratum) + "\"\n"
      "  payout_address: \"" + payout + "\"\n"
      "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
      "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 1s}\n"
      "api:\n"
      "  address: \"127.0.0.1:" + std::to_string(api) + "\"\n"
      "  auth: {users: [{name: admin, password_hash: \"" + api::hash_password("browser-pass") + "\", role: admin}]}\n"
      "monitoring:\n"
      "  metrics: {address: \"127.0.0.1:" + std::to_string(metrics) + "\"}\n"
      "  health: {address: \"127.0.0.1:" + std::to_string(health) + "\"}\n";
  Process node({OTEDAMA_BIN, "serve", "--config", dir.file("node.yaml", yaml)}, dir.path());
  ASSERT_TRUE(eventually([&] {
    try {
      return http::get("http://127.0.0.1:" + std::to_string(health) + "/ready", 1s).status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }, 30s)) << node.err();

  std::string artifacts = std::string(OTEDAMA_BUILD_DIR) + "/test-artifacts/browser";
  std::filesystem::create_directories(artifacts);
  auto r = run({"/usr/bin/node", std::string(OTEDAMA_SOURCE_DIR) + "/tests/browser/dashboard.mjs",
                "http://127.0.0.1:" + std::to_string(api) + "/", artifacts, "admin", "browser-pass", "local"},
               dir.path(), 180s, {"OTEDAMA_TOOLS=" + tools});
  EXPECT_EQ(r.code, 0) << r.out << r.err << "\nnode:\n" << node.err().substr(0, 4000);
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/dashboard.png"));
  std::cout << r.out;
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(10s), 0);
}
