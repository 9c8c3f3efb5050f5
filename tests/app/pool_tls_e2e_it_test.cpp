// stratum+ssl end to end on a real litecoind regtest chain: `otedama serve` with
// pool.tls_address (a self-signed certificate made at test time) and
// `otedama mine --url stratum+ssl://...` find blocks that litecoind accepts; a plain client is
// served on pool.address at the same time. A missing certificate file refuses the start
// (exit code 2) with a message naming the file and the config keys.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http.h"
#include "support/litecoind.h"
#include "support/support.h"
#include "support/tls.h"

using namespace otedama;
using namespace otedama::test;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Node {
  uint16_t stratum = free_port(), tls = free_port(), api = free_port(), metrics = free_port(), health = free_port();
};

std::string pool_config(const Node& n, const std::string& daemon, const std::string& payout, const CertFiles& certs) {
  return "app: {name: \"tls-e2e\", mode: development}\n"
         "logging: {level: debug}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: litecoin\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  tls_address: \"127.0.0.1:" + std::to_string(n.tls) + "\"\n"
         "  tls_cert: \"" + certs.cert + "\"\n"
         "  tls_key: \"" + certs.key + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: " + daemon + "\n"
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

}  // namespace

TEST(PoolTlsE2E, StratumSslMinerFindsBlocksLitecoindAccepts) {
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  std::string payout = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});  // leave initial block download
  TempDir dir;
  CertFiles certs = make_self_signed(dir.path());
  Node n;
  std::string daemon = "{url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}";
  Process node({kBin, "serve", "--config", dir.file("pool.yaml", pool_config(n, daemon, payout, certs))}, dir.path());
  ASSERT_TRUE(eventually([&] { return ready(n); }, std::chrono::seconds(30))) << node.err();
  EXPECT_NE(node.err().find("stratum+ssl listening on 127.0.0.1:" + std::to_string(n.tls)), std::string::npos);

  int start = std::stoi(ltc.cli({"getblockcount"}));
  Process miner({kBin, "mine", "--url", "stratum+ssl://127.0.0.1:" + std::to_string(n.tls), "--user", payout + ".tls",
                 "--algo", "scrypt", "--threads", "1", "--report", "1"},
                dir.path());

  // Meanwhile the plain port serves a plain client, from the same server.
  {
    LineClient plain(n.stratum, {false, 0});
    ASSERT_TRUE(plain.send_raw(R"({"id":1,"method":"mining.subscribe","params":["plain"]})" "\n"));
    auto reply = plain.line(5000);
    ASSERT_TRUE(reply) << node.err();
    json sub = json::parse(*reply);
    EXPECT_TRUE(sub["result"].is_array()) << *reply;
  }

  bool rose = eventually([&] { return std::stoi(ltc.cli({"getblockcount"})) >= start + 2; }, std::chrono::seconds(90));
  miner.signal(SIGTERM);
  EXPECT_EQ(miner.wait(std::chrono::seconds(10)), 0);
  ASSERT_TRUE(rose) << "height stayed near " << start << "\nnode:\n" << node.err() << "\nminer:\n" << miner.err();
  std::string mlog = miner.err() + miner.out();
  EXPECT_NE(mlog.find("over TLSv1."), std::string::npos) << mlog;
  EXPECT_NE(mlog.find("certificate is not verified"), std::string::npos) << mlog;

  // The tip's coinbase pays the pool's address; the daemon accepted the pool's blocks.
  json tip = json::parse(ltc.cli({"getblock", ltc.cli({"getbestblockhash"}), "2"}));
  const json& cb = tip["tx"][0];
  ASSERT_FALSE(cb["vout"].empty());
  EXPECT_EQ(cb["vout"][0]["scriptPubKey"]["addresses"][0], payout) << cb.dump(2);
  EXPECT_NE(node.err().find("accepted by the daemon"), std::string::npos);
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 0) << node.err();
}

TEST(PoolTlsE2E, MissingCertificateRefusesTheStart) {
  TempDir dir;
  CertFiles certs = make_self_signed(dir.path());
  certs.cert = (dir.path() / "missing.crt").string();
  Node n;
  // The daemon is contacted only after the ports are bound, so none needs to run here.
  std::string daemon = "{url: \"http://127.0.0.1:" + std::to_string(free_port()) + "\", user: \"u\", password: \"p\"}";
  auto r = run({kBin, "serve", "--config",
                dir.file("pool.yaml", pool_config(n, daemon, "rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", certs))},
               dir.path(), std::chrono::seconds(30));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("certificate file '" + certs.cert + "'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pool.tls_address"), std::string::npos) << r.err;
}
