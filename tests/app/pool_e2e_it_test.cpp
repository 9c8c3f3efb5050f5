// End to end on a real litecoind regtest chain: `otedama serve` (scrypt pool) + `otedama mine`:
// shares accepted, blocks found and accepted by litecoind paying the configured address, with
// MWEB off and with MWEB active; a block mined outside the pool reaches miners as a clean job
// within a second, and shares on the old job are then stale.
#include <gtest/gtest.h>
#include <poll.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "http/http.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Node {
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port();
};

std::string pool_config(const Node& n, const Litecoind& ltc, const std::string& payout) {
  return "app: {name: \"e2e\", mode: development}\n"
         "logging: {level: debug}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: litecoin\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
         "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 2s}\n"
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\"}\n"
         "monitoring:\n"
         "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
}

bool ready(const Node& n) {
  try {
    return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", std::chrono::seconds(1)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// Mines through the pool with `otedama mine` until litecoind's height rose by `blocks`, then
// checks that the new tip's coinbase pays `payout`.
void mine_blocks_through_pool(Litecoind& ltc, const std::string& payout, int blocks, const TempDir& dir) {
  Node n;
  Process node({kBin, "serve", "--config", dir.file("pool.yaml", pool_config(n, ltc, payout))}, dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << node.err();
  int start = std::stoi(ltc.cli({"getblockcount"}));
  Process miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(n.stratum), "--user",
                 payout + ".e2e", "--algo", "scrypt", "--threads", "1", "--report", "1"},
                dir.path());
  bool rose = eventually([&] { return std::stoi(ltc.cli({"getblockcount"})) >= start + blocks; }, std::chrono::seconds(90));
  miner.signal(SIGTERM);
  EXPECT_EQ(miner.wait(std::chrono::seconds(10)), 0);
  ASSERT_TRUE(rose) << "height stayed near " << start << "\nnode:\n" << node.err() << "\nminer:\n" << miner.err();

  // The tip's coinbase pays the pool's address the whole coinbase value.
  json tip = json::parse(ltc.cli({"getblock", ltc.cli({"getbestblockhash"}), "2"}));
  const json& cb = tip["tx"][0];
  ASSERT_FALSE(cb["vout"].empty());
  EXPECT_EQ(cb["vout"][0]["scriptPubKey"]["addresses"][0], payout) << cb.dump(2);
  EXPECT_GT(cb["vout"][0]["value"].get<double>(), 0);
  std::string log = node.err();
  EXPECT_NE(log.find("accepted by the daemon"), std::string::npos);

  // The metrics counted valid shares and found blocks.
  auto metrics = http::get("http://127.0.0.1:" + std::to_string(n.metrics) + "/metrics").body;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics, m, std::regex(R"(otedama_shares_total\{[^}]*result="valid"\} (\d+))")));
  EXPECT_GE(std::stoi(m[1]), blocks);
  ASSERT_TRUE(std::regex_search(metrics, m, std::regex(R"(otedama_blocks_accepted_total\{[^}]*\} (\d+))")));
  EXPECT_GE(std::stoi(m[1]), blocks);
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 0) << node.err();
}

// A raw Stratum client for the stale-work checks.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (connect(fd_, (sockaddr*)&a, sizeof a) != 0) throw std::runtime_error("connect");
  }
  ~RawClient() { close(fd_); }
  void send(const json& j) {
    std::string s = j.dump() + "\n";
    (void)!::write(fd_, s.data(), s.size());
  }
  // The next message matching `pred`, or null after the timeout.
  json next(const std::function<bool(const json&)>& pred, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      size_t pos;
      while ((pos = buf_.find('\n')) != std::string::npos) {
        json j = json::parse(buf_.substr(0, pos));
        buf_.erase(0, pos + 1);
        if (pred(j)) return j;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) == 1) {
        char c[65536];
        ssize_t n = read(fd_, c, sizeof c);
        if (n <= 0) return nullptr;
        buf_.append(c, size_t(n));
      }
    }
    return nullptr;
  }

 private:
  int fd_;
  std::string buf_;
};

}  // namespace

TEST(PoolE2E, MwebOffBlocksPayThePool) {
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});  // leave initial block download
  TempDir dir;
  mine_blocks_through_pool(ltc, payout, 3, dir);
}

TEST(PoolE2E, MwebActiveBlocksPayThePool) {
  Litecoind ltc;  // MWEB activates at 432
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "legacy"});
  ltc.cli({"generatetoaddress", "431", payout});
  ltc.cli({"sendtoaddress", ltc.cli({"getnewaddress", "", "mweb"}), "1"});  // the peg-in block 432 needs
  TempDir dir;
  mine_blocks_through_pool(ltc, payout, 3, dir);
  json tip = json::parse(ltc.cli({"getblock", ltc.cli({"getbestblockhash"}), "2"}));
  EXPECT_GT(tip["height"].get<int>(), 432);
  EXPECT_TRUE(tip.contains("mweb")) << "no MWEB data in a block past activation";
}

TEST(PoolE2E, OutsideBlockIsACleanJobWithinASecondAndOldSharesAreStale) {
  Node n;
  LitecoindOptions o;
  o.mweb = false;
  // The daemon's -blocknotify hook calls `otedama blocknotify`, which wakes the pool at once.
  o.blocknotify = kBin + " blocknotify --url http://127.0.0.1:" + std::to_string(n.health) + " %s";
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});
  TempDir dir;
  Process node({kBin, "serve", "--config", dir.file("pool.yaml", pool_config(n, ltc, payout))}, dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << node.err();

  RawClient c(n.stratum);
  c.send({{"id", 1}, {"method", "mining.subscribe"}, {"params", {"e2e-test"}}});
  c.send({{"id", 2}, {"method", "mining.authorize"}, {"params", {payout + ".raw", "x"}}});
  auto is_notify = [](const json& j) { return j.value("method", "") == "mining.notify"; };
  json first = c.next(is_notify, std::chrono::seconds(5));
  ASSERT_FALSE(first.is_null()) << node.err();
  std::string old_job = first["params"][0];

  auto t0 = std::chrono::steady_clock::now();
  ltc.cli({"generatetoaddress", "1", payout});
  json clean = c.next([&](const json& j) { return is_notify(j) && j["params"][8] == true; }, std::chrono::seconds(3));
  auto latency = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(clean.is_null()) << "no clean job after an outside block\n" << node.err();
  EXPECT_LT(latency, std::chrono::milliseconds(1000)) << std::chrono::duration<double>(latency).count() << " s";
  EXPECT_NE(clean["params"][1], first["params"][1]);  // a new previous-block hash

  // A share on the old job is stale now (error 21), and the connection stays usable.
  c.send({{"id", 9}, {"method", "mining.submit"},
          {"params", {payout + ".raw", old_job, "0000000000000000", first["params"][7], "00000000"}}});
  json reply = c.next([](const json& j) { return j.value("id", 0) == 9; }, std::chrono::seconds(5));
  ASSERT_FALSE(reply.is_null());
  EXPECT_NE(reply["result"], true);
  EXPECT_EQ(reply["error"][0], 21) << reply.dump();
  c.send({{"id", 10}, {"method", "mining.ping"}, {"params", json::array()}});
  EXPECT_FALSE(c.next([](const json& j) { return j.value("id", 0) == 10; }, std::chrono::seconds(5)).is_null());

  // The notify endpoint itself: every pool, one pool by name, an unknown pool, a wrong method.
  std::string base = "http://127.0.0.1:" + std::to_string(n.health);
  auto all = run({kBin, "blocknotify", "--url", base, "00ff"}, dir.path());
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("\"notified\":1"), std::string::npos) << all.out;
  EXPECT_EQ(run({kBin, "blocknotify", "--url", base, "--pool", "litecoin"}, dir.path()).code, 0);
  auto unknown = run({kBin, "blocknotify", "--url", base, "--pool", "dogecoin"}, dir.path());
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("404"), std::string::npos) << unknown.err;
  EXPECT_EQ(http::get(base + "/notify/block").status, 405u);
  EXPECT_EQ(run({kBin, "blocknotify", "--url", "http://127.0.0.1:" + std::to_string(free_port())}, dir.path()).code, 1);
}

TEST(PoolE2E, DeadDaemonAndBadAddressAreReportedNotFatal) {
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  TempDir dir;
  Node n;
  // A mainnet address on a regtest daemon: the pool refuses to serve and says why.
  Process node({kBin, "serve", "--config",
                dir.file("pool.yaml", pool_config(n, ltc, "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"))},
               dir.path());
  std::string detail;
  ASSERT_TRUE(eventually(
      [&] {
        try {
          auto r = http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", std::chrono::seconds(1));
          detail = r.body;
          return r.status == 503 && r.body.find("payout_address") != std::string::npos;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20)))
      << detail << node.err();
  ltc.stop_pool_node();
  EXPECT_TRUE(node.running());
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 0);
}
