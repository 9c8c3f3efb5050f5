// End to end on a real monerod regtest chain: `otedama serve` (RandomX pool) mined by XMRig
// 6.16.0, a miner nobody here wrote: XMRig logs accepted shares, the pool counts them, blocks
// are found, monerod accepts them and their coinbase pays the pool's wallet. A corrupted share
// (through a test proxy) is refused with the right error, and XMRig keeps mining.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "http/http.h"
#include "support/litecoind.h"
#include "support/monerod.h"
#include "support/support.h"
#include "support/xmrig.h"

using namespace otedama;
using namespace otedama::test;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Ports {
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port();
};

std::string monero_config(const Ports& n, const Monerod& node, const std::string& payout) {
  return "app: {name: \"e2e\", mode: development}\n"
         "logging: {level: debug}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: monero\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: {url: \"" + node.rpc_url() + "\"}\n"
         "  difficulty: {initial: 4, min: 1, target_share_time: 2s}\n"
         "  randomx_mode: light\n"
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\"}\n"
         "monitoring:\n"
         "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
}

bool ready(const Ports& n) {
  try {
    return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", std::chrono::seconds(1)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

double metric(const Ports& n, const std::string& pattern) {
  auto body = http::get("http://127.0.0.1:" + std::to_string(n.metrics) + "/metrics").body;
  std::smatch m;
  if (!std::regex_search(body, m, std::regex(pattern + R"( ([0-9.e+]+))"))) return -1;
  return std::stod(m[1]);
}

// A loopback TCP proxy for one miner that flips a digit of the `result` of the nth submit it
// forwards (Monero-style Stratum, one JSON object per line).
class CorruptingProxy {
 public:
  CorruptingProxy(uint16_t upstream, int corrupt_nth) : upstream_(upstream), nth_(corrupt_nth) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(listen_fd_, (sockaddr*)&a, sizeof a) != 0 || ::listen(listen_fd_, 4) != 0)
      throw std::runtime_error("proxy: cannot listen");
    thread_ = std::thread([this] { run(); });
  }
  ~CorruptingProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port = free_port();
  std::atomic<int> corrupted{0};

 private:
  static int connect_to(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, (sockaddr*)&a, sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  static void send_all(int fd, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += size_t(n);
    }
  }
  void run() {
    while (!stop_) {  // one miner at a time; XMRig reconnects through us if it has to
      pollfd lp{listen_fd_, POLLIN, 0};
      if (::poll(&lp, 1, 200) <= 0) continue;
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = connect_to(upstream_);
      if (server < 0) {
        ::close(client);
        continue;
      }
      std::string line_buf;
      char buf[65536];
      while (!stop_) {
        pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (::poll(p, 2, 200) <= 0) continue;
        if (p[1].revents) {
          ssize_t n = ::recv(server, buf, sizeof buf, 0);
          if (n <= 0) break;
          send_all(client, std::string(buf, size_t(n)));
        }
        if (p[0].revents) {
          ssize_t n = ::recv(client, buf, sizeof buf, 0);
          if (n <= 0) break;
          line_buf.append(buf, size_t(n));
          for (size_t nl; (nl = line_buf.find('\n')) != std::string::npos;) {
            std::string line = line_buf.substr(0, nl + 1);
            line_buf.erase(0, nl + 1);
            json j = json::parse(line, nullptr, false);
            if (j.is_object() && j.value("method", "") == "submit" && ++submits_ == nth_) {
              std::string r = j["params"]["result"];
              r[0] = r[0] == '0' ? '1' : '0';
              j["params"]["result"] = r;
              line = j.dump() + "\n";
              ++corrupted;
            }
            send_all(server, line);
          }
        }
      }
      ::close(client);
      ::close(server);
    }
  }

  uint16_t upstream_;
  int nth_;
  int submits_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(MoneroE2E, XmrigMinesBlocksThroughOtedama) {
  TempDir dir;
  Monerod node({.fixed_difficulty = 30});
  MoneroWallet wallet(node);
  Ports n;
  Process otedama({kBin, "serve", "--config", dir.file("pool.yaml", monero_config(n, node, wallet.address()))},
                  dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << otedama.err();
  uint64_t start = node.height();

  Xmrig xmrig({.pool = "127.0.0.1:" + std::to_string(n.stratum), .user = std::string(kMoneroTestAddress) + ".xmrig"},
              dir);
  // Shares and at least two blocks, well within the hard limit.
  bool done = eventually([&] { return xmrig.shares_good() >= 6 && node.height() >= start + 2; },
                         std::chrono::seconds(180), std::chrono::milliseconds(500));
  uint64_t good = xmrig.shares_good();
  std::string log = xmrig.log();
  xmrig.stop();
  ASSERT_TRUE(done) << "XMRig shares " << good << ", height " << node.height() << "\nXMRig log:\n"
                    << log << "\notedama:\n" << otedama.err().substr(0, 20000);
  EXPECT_NE(log.find("accepted"), std::string::npos) << log;
  EXPECT_NE(log.find("new job from 127.0.0.1:" + std::to_string(n.stratum)), std::string::npos) << log;
  // A share in flight when a block changes the job is stale; nothing else may be refused.
  std::istringstream lines(log);
  for (std::string l; std::getline(lines, l);)
    if (l.find("rejected") != std::string::npos) EXPECT_NE(l.find("\"Stale job\""), std::string::npos) << l;

  // The pool counted what XMRig saw accepted (XMRig may have shares in flight when stopped).
  double valid = metric(n, R"(otedama_shares_total\{[^}]*coin="monero"[^}]*result="valid"\})");
  EXPECT_GE(valid, double(good)) << valid;
  double accepted = metric(n, R"(otedama_blocks_accepted_total\{[^}]*coin="monero"[^}]*\})");
  uint64_t blocks = node.height() - start;
  // Two shares of one job can both meet the network target: monerod takes the second as an
  // alternative block at the same height, so the pool may count more than the chain grew.
  EXPECT_GE(accepted, double(blocks));

  // Every block since the start pays the pool's wallet.
  uint64_t rewards = 0;
  for (uint64_t h = start; h < node.height(); ++h)
    rewards += node.rpc("get_block_header_by_height", {{"height", h}})["block_header"]["reward"].get<uint64_t>();
  wallet.rpc("refresh");
  EXPECT_EQ(wallet.rpc("get_balance", {{"account_index", 0}})["balance"].get<uint64_t>(), rewards);

  // otedama stops cleanly.
  otedama.signal(SIGTERM);
  EXPECT_EQ(otedama.wait(std::chrono::seconds(10)), 0) << otedama.err().substr(0, 5000);
}

TEST(MoneroE2E, XmrigSeesARejectionAndKeepsMining) {
  TempDir dir;
  Monerod node({.fixed_difficulty = 1000000});  // no blocks: shares only
  Ports n;
  Process otedama({kBin, "serve", "--config", dir.file("pool.yaml", monero_config(n, node, kMoneroTestAddress))},
                  dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << otedama.err();
  CorruptingProxy proxy(n.stratum, 2);
  Xmrig xmrig({.pool = "127.0.0.1:" + std::to_string(proxy.port), .user = kMoneroTestAddress}, dir);
  bool done = eventually([&] { return proxy.corrupted.load() == 1 && xmrig.shares_good() >= 3; },
                         std::chrono::seconds(180), std::chrono::milliseconds(500));
  std::string log = xmrig.log();
  auto summary = xmrig.summary();
  xmrig.stop();
  ASSERT_TRUE(done) << log;
  EXPECT_NE(log.find("rejected"), std::string::npos) << log;
  EXPECT_NE(log.find("Invalid result"), std::string::npos) << log;
  EXPECT_EQ(summary["results"]["shares_total"].get<uint64_t>() - summary["results"]["shares_good"].get<uint64_t>(), 1u)
      << summary.dump();
  EXPECT_EQ(metric(n, R"(otedama_shares_total\{[^}]*coin="monero"[^}]*result="invalid"\})"), 1);
}

// The same with Otedama's own miner: `otedama mine --algo randomx` (light mode, one thread).
TEST(MoneroE2E, OtedamaMineMinesBlocksThroughOtedama) {
  TempDir dir;
  Monerod node({.fixed_difficulty = 30});
  MoneroWallet wallet(node);
  Ports n;
  Process otedama({kBin, "serve", "--config", dir.file("pool.yaml", monero_config(n, node, wallet.address()))},
                  dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << otedama.err();
  uint64_t start = node.height();
  Process miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(n.stratum), "--user",
                 std::string(kMoneroTestAddress) + ".otedama", "--algo", "randomx", "--randomx-mode", "light",
                 "--threads", "1", "--report", "1"},
                dir.path());
  auto accepted = [&] {
    static const std::regex count(R"(accepted (\d+))");
    std::string out = miner.out() + miner.err();
    int best = 0;
    for (std::sregex_iterator it(out.begin(), out.end(), count), end; it != end; ++it)
      best = std::max(best, std::stoi((*it)[1]));
    return best;
  };
  bool done = eventually([&] { return accepted() >= 6 && node.height() >= start + 2; }, std::chrono::seconds(180),
                         std::chrono::milliseconds(500));
  miner.signal(SIGINT);
  EXPECT_EQ(miner.wait(std::chrono::seconds(15)), 0) << miner.err().substr(0, 5000);
  ASSERT_TRUE(done) << "accepted " << accepted() << ", height " << node.height() << "\nminer:\n"
                    << miner.err().substr(0, 10000) << "\notedama:\n" << otedama.err().substr(0, 10000);
  double valid = metric(n, R"(otedama_shares_total\{[^}]*coin="monero"[^}]*result="valid"\})");
  EXPECT_GE(valid, double(accepted()));
  uint64_t rewards = 0;
  for (uint64_t h = start; h < node.height(); ++h)
    rewards += node.rpc("get_block_header_by_height", {{"height", h}})["block_header"]["reward"].get<uint64_t>();
  wallet.rpc("refresh");
  EXPECT_EQ(wallet.rpc("get_balance", {{"account_index", 0}})["balance"].get<uint64_t>(), rewards);
  // The pool's API knows the miner.
  auto workers = json::parse(http::get("http://127.0.0.1:" + std::to_string(n.api) + "/api/workers").body);
  EXPECT_NE(workers.dump().find("otedama"), std::string::npos) << workers.dump();
}

// Several algorithms in one node: the litecoind/scrypt pool and the monerod/RandomX pool side by
// side, each on its own port, both mined at once (otedama mine for each), both paying out.
TEST(MoneroE2E, OneNodeServesLitecoinAndMonero) {
  TempDir dir;
  LitecoindOptions lo;
  lo.mweb = false;
  Litecoind ltc(lo);
  ltc.cli({"createwallet", "pool"});
  std::string ltc_payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", ltc_payout});
  Monerod xmr({.fixed_difficulty = 30});
  Ports n;
  uint16_t ltc_port = free_port();
  std::string cfg = monero_config(n, xmr, kMoneroTestAddress);
  // The single pool: section becomes the second item of pools:, after a litecoin pool.
  std::string pool_block = cfg.substr(cfg.find("pool:\n"), cfg.find("api:") - cfg.find("pool:\n"));
  std::string monero_item;
  std::istringstream lines(pool_block.substr(6));
  for (std::string l; std::getline(lines, l);) monero_item += (monero_item.empty() ? "  - " : "    ") + l.substr(2) + "\n";
  std::string pools = "pools:\n"
                      "  - name: ltc\n"
                      "    coin: litecoin\n"
                      "    address: \"127.0.0.1:" + std::to_string(ltc_port) + "\"\n"
                      "    payout_address: \"" + ltc_payout + "\"\n"
                      "    daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
                      "    difficulty: {initial: 0.01, min: 0.0001, target_share_time: 2s}\n" +
                      monero_item;
  cfg.replace(cfg.find("pool:\n"), pool_block.size(), pools);
  Process otedama({kBin, "serve", "--config", dir.file("pools.yaml", cfg)}, dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << otedama.err() << "\n" << cfg;

  int ltc_start = std::stoi(ltc.cli({"getblockcount"}));
  uint64_t xmr_start = xmr.height();
  Process ltc_miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(ltc_port), "--user",
                     ltc_payout + ".multi", "--algo", "scrypt", "--threads", "1", "--report", "1"},
                    dir.path());
  Process xmr_miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(n.stratum), "--user",
                     std::string(kMoneroTestAddress) + ".multi", "--algo", "randomx", "--randomx-mode", "light",
                     "--threads", "1", "--report", "1"},
                    dir.path());
  bool both = eventually([&] { return std::stoi(ltc.cli({"getblockcount"})) >= ltc_start + 2 && xmr.height() >= xmr_start + 2; },
                         std::chrono::seconds(180), std::chrono::milliseconds(500));
  ltc_miner.signal(SIGINT);
  xmr_miner.signal(SIGINT);
  ASSERT_TRUE(both) << "litecoin " << ltc.cli({"getblockcount"}) << " (from " << ltc_start << "), monero "
                    << xmr.height() << " (from " << xmr_start << ")\n" << otedama.err().substr(0, 10000);
  EXPECT_GE(metric(n, R"(otedama_blocks_accepted_total\{[^}]*coin="litecoin"[^}]*\})"), 2);
  EXPECT_GE(metric(n, R"(otedama_blocks_accepted_total\{[^}]*coin="monero"[^}]*\})"), 2);
  // Each daemon's tip pays its own pool's address.
  json tip = json::parse(ltc.cli({"getblock", ltc.cli({"getbestblockhash"}), "2"}));
  EXPECT_EQ(tip["tx"][0]["vout"][0]["scriptPubKey"]["addresses"][0], ltc_payout);
  auto stats = json::parse(http::get("http://127.0.0.1:" + std::to_string(n.api) + "/api/stats").body);
  EXPECT_NE(stats.dump().find("litecoin"), std::string::npos) << stats.dump();
  EXPECT_NE(stats.dump().find("monero"), std::string::npos) << stats.dump();
}

}  // namespace
