// Federation end to end: two independent classic pools A and B (each its own litecoind regtest
// pair, the pairs peered), linked by ed25519 keys made with `otedama federation keygen`. A block
// A finds is announced to B within a second; when A's daemon stops, A sends its miner (which
// knows only A's URL) to B with client.reconnect, and the miner's shares arrive at B.
#include <gtest/gtest.h>

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

struct PoolSetup {
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port(), fed = free_port();
  std::string payout, pubkey, key_file;
};

std::string keygen(const TempDir& dir, const std::string& name, std::string& key_file) {
  key_file = (dir.path() / (name + ".pem")).string();
  RunResult r = run({kBin, "federation", "keygen", "--out", key_file}, dir.path(), std::chrono::seconds(10));
  if (r.code != 0) throw std::runtime_error("keygen failed: " + r.err);
  std::string pub = r.out.substr(0, r.out.find('\n'));
  if (pub.size() != 64) throw std::runtime_error("keygen printed '" + r.out + "'");
  return pub;
}

std::string config(const PoolSetup& p, const Litecoind& ltc, const std::string& name, const std::string& peer_name,
                   const PoolSetup& other, bool dial) {
  return "app: {name: \"" + name + "\", mode: development}\n"
         "logging: {level: info}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: litecoin\n"
         "  address: \"127.0.0.1:" + std::to_string(p.stratum) + "\"\n"
         "  payout_address: \"" + p.payout + "\"\n"
         "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
         "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 2s}\n"
         "api:\n"
         "  address: \"127.0.0.1:" + std::to_string(p.api) + "\"\n"
         "  auth: {enabled: false}\n"
         "  rate_limit: {enabled: false}\n"
         "monitoring:\n"
         "  metrics: {address: \"127.0.0.1:" + std::to_string(p.metrics) + "\"}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(p.health) + "\"}\n"
         "p2p:\n"
         "  federation:\n"
         "    enable: true\n"
         "    key_file: \"" + p.key_file + "\"\n"
         "    listen: \"127.0.0.1:" + std::to_string(p.fed) + "\"\n"
         "    peers:\n"
         "      - name: " + peer_name + "\n" +
         (dial ? "        address: \"127.0.0.1:" + std::to_string(other.fed) + "\"\n" : std::string()) +
         "        public_key: \"" + other.pubkey + "\"\n";
}

bool ready(uint16_t health) {
  try {
    return http::get("http://127.0.0.1:" + std::to_string(health) + "/ready", std::chrono::seconds(1)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// "2026-11-26 07:01:19.953" at the start of a log line -> ms of the day.
int64_t log_ms(const std::string& line) {
  std::smatch m;
  static const std::regex re(R"((\d\d):(\d\d):(\d\d)\.(\d\d\d))");
  if (!std::regex_search(line, m, re)) return -1;
  return ((std::stoll(m[1]) * 60 + std::stoll(m[2])) * 60 + std::stoll(m[3])) * 1000 + std::stoll(m[4]);
}

std::string line_with(const std::string& log, const std::string& what) {
  auto p = log.find(what);
  if (p == std::string::npos) return "";
  auto b = log.rfind('\n', p);
  auto e = log.find('\n', p);
  return log.substr(b == std::string::npos ? 0 : b + 1, e == std::string::npos ? std::string::npos : e - b - 1);
}

TEST(FederationE2E, BlockNoticesAndMinersMoveWhenAnUpstreamFails) {
  TempDir dir;
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc_a(o), ltc_b(o);
  ltc_a.cli_b({"addnode", "127.0.0.1:" + std::to_string(ltc_b.helper_p2p_port()), "onetry"});
  PoolSetup a, b;
  ltc_a.cli({"createwallet", "w"});
  ltc_b.cli({"createwallet", "w"});
  a.payout = ltc_a.cli({"getnewaddress", "", "bech32"});
  b.payout = ltc_b.cli({"getnewaddress", "", "bech32"});
  ltc_a.cli({"generatetoaddress", "1", a.payout});
  std::string raw = ltc_a.cli({"getblock", ltc_a.cli({"getbestblockhash"}), "0"});
  ltc_a.cli_b({"submitblock", raw});
  ltc_b.cli({"submitblock", raw});
  ltc_b.cli_b({"submitblock", raw});
  a.pubkey = keygen(dir, "a", a.key_file);
  b.pubkey = keygen(dir, "b", b.key_file);
  // A dials B; B only lists A's key.
  Process node_a({kBin, "serve", "--config", dir.file("a.yaml", config(a, ltc_a, "pool-a", "pool-b", b, true))},
                 dir.path());
  Process node_b({kBin, "serve", "--config", dir.file("b.yaml", config(b, ltc_b, "pool-b", "pool-a", a, false))},
                 dir.path());
  ASSERT_TRUE(eventually([&] { return ready(a.health) && ready(b.health); }, std::chrono::seconds(30)))
      << node_a.err() << (node_a.out() + node_a.err()) << (node_b.out() + node_b.err());
  ASSERT_TRUE(eventually([&] { return (node_b.out() + node_b.err()).find("federation: link to pool-a up") != std::string::npos; },
                         std::chrono::seconds(20)))
      << (node_b.out() + node_b.err());

  // A's miner knows only A.
  Process miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(a.stratum), "--user",
                 a.payout + ".fed", "--algo", "scrypt", "--threads", "1", "--report", "1"},
                dir.path());

  // A block at A, announced to B within a second.
  std::string found_line;
  ASSERT_TRUE(eventually(
      [&] {
        found_line = line_with((node_a.out() + node_a.err()), "meets the network target: block ");
        return !found_line.empty();
      },
      std::chrono::seconds(60)))
      << (node_a.out() + node_a.err());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(found_line, m, std::regex("block ([0-9a-f]{64})")));
  std::string hash = m[1];
  std::string notice;
  ASSERT_TRUE(eventually(
      [&] {
        notice = line_with((node_b.out() + node_b.err()), "announced litecoin block " + hash);
        return !notice.empty();
      },
      std::chrono::seconds(5)))
      << (node_b.out() + node_b.err());
  int64_t delay = log_ms(notice) - log_ms(found_line);
  RecordProperty("notice_ms", int(delay));
  EXPECT_LE(delay, 1000) << found_line << "\n" << notice;

  // A loses its daemon: its miner is sent to B (B says it is healthy) and mines there. (Health
  // goes out every 2 s: give the link one round first.)
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ltc_a.stop_pool_node();
  std::string at_b = "connected to 127.0.0.1:" + std::to_string(b.stratum);
  EXPECT_TRUE(eventually([&] { return (miner.out() + miner.err()).find(at_b) != std::string::npos; },
                         std::chrono::seconds(30)))
      << "miner:\n" << miner.out() << miner.err() << "\nA:\n" << (node_a.out() + node_a.err());
  EXPECT_TRUE(eventually(
      [&] {
        try {
          auto r = http::get("http://127.0.0.1:" + std::to_string(b.api) + "/api/miners/" + a.payout,
                             std::chrono::seconds(2));
          return r.status == 200 && json::parse(r.body)["shares"]["valid"].get<int64_t>() > 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(30)))
      << "B saw no share from A's miner";
  miner.signal(SIGTERM);
  miner.wait(std::chrono::seconds(10));
}

}  // namespace
