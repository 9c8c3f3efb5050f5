// Fail-over end to end on a real litecoind regtest chain: two `otedama serve` nodes on the same
// daemon and one `otedama mine` with both URLs. Node A killed with SIGKILL: the miner mines on
// B within 10 s and blocks keep coming; A restarted: the miner goes back to A. Node A losing
// its own daemon (stopped): A sends client.reconnect to B (pool.failover) and the miner, which
// knows only A, mines on B within 10 s.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <list>
#include <mutex>
#include <regex>

#include "http/http.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using namespace std::chrono_literals;

namespace {

const std::string kBin = OTEDAMA_BIN;
const std::string kStdbuf = "/usr/bin/stdbuf";  // the miner logs to stdout: line-buffered, for failure messages

struct Node {
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port();
  std::string stratum_url() const { return "stratum+tcp://127.0.0.1:" + std::to_string(stratum); }
};

std::string node_config(const Node& n, const std::string& daemon_url, const Litecoind& ltc, const std::string& payout,
                        const std::string& failover) {
  return "app: {name: \"failover\", mode: development, data_dir: \"./data\"}\n"
         "logging: {level: debug}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: litecoin\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: {url: \"" + daemon_url + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
         "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 1s}\n" +
         (failover.empty() ? "" : "  failover: [\"" + failover + "\"]\n") +
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\"}\n"
         "monitoring:\n"
         "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
}

bool ready(const Node& n) {
  try {
    return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", 1s).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// Valid shares the node counted (0 when it does not answer).
long valid_shares(const Node& n) {
  try {
    auto body = http::get("http://127.0.0.1:" + std::to_string(n.metrics) + "/metrics", 1s).body;
    std::smatch m;
    if (std::regex_search(body, m, std::regex(R"(otedama_shares_total\{[^}]*result="valid"\} (\d+))")))
      return std::stol(m[1]);
  } catch (const std::exception&) {
  }
  return 0;
}

// Shares reach node n from now on: the miner mines there.
bool mining_on(const Node& n, std::chrono::milliseconds within) {
  long before = valid_shares(n);
  return eventually([&] { return valid_shares(n) >= before + 2; }, within, 100ms);
}

class FailoverE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    LitecoindOptions o;
    o.mweb = false;
    ltc = std::make_unique<Litecoind>(o);
    ltc->cli({"createwallet", "pool"});
    payout = ltc->cli({"getnewaddress", "", "bech32"});
    ltc->cli({"generatetoaddress", "1", payout});  // leave initial block download
  }

  std::unique_ptr<Process> start_node(const Node& n, const TempDir& dir, const std::string& daemon_url,
                                      const std::string& failover = "") {
    auto p = std::make_unique<Process>(
        std::vector<std::string>{kBin, "serve", "--config",
                                 dir.file("pool.yaml", node_config(n, daemon_url, *ltc, payout, failover))},
        dir.path());
    EXPECT_TRUE(eventually([&] { return ready(n); }, 30s)) << p->err();
    return p;
  }

  std::unique_ptr<Process> start_miner(const Node& a, const Node& b) {
    return std::make_unique<Process>(std::vector<std::string>{kStdbuf, "-oL", kBin, "mine", "--url", a.stratum_url(), "--url",
                                                              b.stratum_url(), "--user", payout + ".failover",
                                                              "--algo", "scrypt", "--threads", "1", "--report", "1"},
                                     miner_dir.path());
  }

  int height() { return std::stoi(ltc->cli({"getblockcount"})); }

  std::unique_ptr<Litecoind> ltc;
  std::string payout;
  TempDir dir_a, dir_b, miner_dir;
};

}  // namespace

TEST_F(FailoverE2E, KilledNodeMinerMovesToTheOtherAndBack) {
  Node a, b;
  auto node_a = start_node(a, dir_a, ltc->rpc_url());
  auto node_b = start_node(b, dir_b, ltc->rpc_url());
  auto miner = start_miner(a, b);
  ASSERT_TRUE(mining_on(a, 60s)) << "miner:\n" << miner->out() << miner->err() << "\nnode A:\n" << node_a->err();
  EXPECT_EQ(valid_shares(b), 0);

  node_a->signal(SIGKILL);
  node_a->wait(10s);
  ASSERT_TRUE(mining_on(b, 10s)) << "the miner did not reach node B within 10 s\nminer:\n" << miner->out() << miner->err();
  int h = height();
  EXPECT_TRUE(eventually([&] { return height() > h; }, 60s)) << "no block through node B";

  node_a = start_node(a, dir_a, ltc->rpc_url());  // same ports, same data directory
  ASSERT_TRUE(mining_on(a, 60s)) << "the miner did not go back to node A (miner exit: " << miner->wait(0ms)
                                 << ", -1 = running)\nminer:\n" << miner->out() << miner->err()
                                 << "\nnode A:\n" << node_a->err() << "\nnode B:\n" << node_b->err();
  EXPECT_NE(miner->out().find("gives work again"), std::string::npos) << miner->out();
  miner->signal(SIGTERM);
  EXPECT_EQ(miner->wait(10s), 0);
}

TEST_F(FailoverE2E, NodeThatLosesItsDaemonSendsItsMinerToTheFailoverNode) {
  Node a, b;
  // Node A on a daemon of its own, which the test then stops.
  LitecoindOptions o;
  o.mweb = false;
  auto ltc_a = std::make_unique<Litecoind>(o);
  ltc_a->cli({"generatetoaddress", "1", payout});
  auto node_b = start_node(b, dir_b, ltc->rpc_url());
  auto node_a = std::make_unique<Process>(
      std::vector<std::string>{kBin, "serve", "--config",
                               dir_a.file("pool.yaml", node_config(a, ltc_a->rpc_url(), *ltc_a, payout,
                                                                   "127.0.0.1:" + std::to_string(b.stratum)))},
      dir_a.path());
  ASSERT_TRUE(eventually([&] { return ready(a); }, 30s)) << node_a->err();
  // Only A configured in the miner: B is reached through client.reconnect alone.
  auto miner = std::make_unique<Process>(std::vector<std::string>{kStdbuf, "-oL", kBin, "mine", "--url", a.stratum_url(), "--user",
                                                                  payout + ".failover", "--algo", "scrypt",
                                                                  "--threads", "1", "--report", "1"},
                                         miner_dir.path());
  ASSERT_TRUE(mining_on(a, 60s)) << "miner:\n" << miner->out() << miner->err() << "\nnode A:\n" << node_a->err();

  ltc_a.reset();  // node A's daemon is gone (RPC stop, SIGKILL if it lingers)
  ASSERT_TRUE(mining_on(b, 10s)) << "the miner did not reach node B within 10 s\nminer:\n"
                                 << miner->out() << miner->err() << "\nnode A:\n" << node_a->err();
  EXPECT_NE(node_a->err().find("lost the coin daemon"), std::string::npos) << node_a->err();
  EXPECT_FALSE(ready(a));
  long a_shares = valid_shares(a);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(valid_shares(a), a_shares) << "node A accepted shares without a daemon";
  int h = height();
  EXPECT_TRUE(eventually([&] { return height() > h; }, 60s)) << "no block through node B";
  miner->signal(SIGTERM);
  EXPECT_EQ(miner->wait(10s), 0);
  EXPECT_NE(miner->out().find("asks to reconnect to 127.0.0.1:" + std::to_string(b.stratum)), std::string::npos)
      << miner->out();
}
