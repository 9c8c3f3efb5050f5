#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.h"

using namespace otedama::config;
using namespace std::chrono;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

LoadResult load(const std::string& yaml, const Environment& env = {}) { return load_string(yaml, "test.yaml", env); }

// The single error of a result, with its key path.
const ConfigError& only_error(const LoadResult& r) {
  EXPECT_EQ(r.errors.size(), 1u);
  if (r.errors.size() != 1)
    for (const auto& e : r.errors) ADD_FAILURE() << e.format();
  return r.errors.at(0);
}

const ConfigError* find_error(const LoadResult& r, const std::string& key) {
  for (const auto& e : r.errors)
    if (e.key == key) return &e;
  return nullptr;
}

}  // namespace

TEST(Config, ProductExampleParsesVerbatim) {
  auto r = load_file(OTEDAMA_SOURCE_DIR "/tests/config/data/product_example.yaml", {});
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].format());
  const Config& c = *r.config;
  EXPECT_EQ(c.app.name, "Otedama");
  EXPECT_EQ(c.app.mode, Mode::production);
  EXPECT_EQ(c.app.data_dir, "./data");
  EXPECT_EQ(c.logging.level, "info");
  EXPECT_EQ(c.logging.file, "logs/otedama.log");
  EXPECT_EQ(c.mining.algorithm, "sha256d");
  EXPECT_TRUE(c.mining.enable_cpu && c.mining.enable_gpu && c.mining.enable_asic);
  EXPECT_EQ(c.mining.cpu.threads, 0u);
  EXPECT_EQ(c.mining.cpu.priority, Priority::normal);
  EXPECT_EQ(c.mining.gpu.intensity, 20u);
  EXPECT_EQ(c.mining.gpu.temperature_limit, 85u);
  EXPECT_EQ(c.mining.asic.poll_interval, seconds(5));
  ASSERT_EQ(c.pools.size(), 1u);
  const PoolConfig& p = c.pools[0];
  EXPECT_TRUE(p.enable);
  EXPECT_EQ(p.address.host, "0.0.0.0");
  EXPECT_EQ(p.address.port, 3333);
  EXPECT_EQ(p.max_connections, 10000u);
  EXPECT_DOUBLE_EQ(p.fee_percentage, 1.0);
  EXPECT_EQ(p.reward_system, RewardSystem::PPLNS);
  ASSERT_TRUE(p.reward_window.duration.has_value());
  EXPECT_EQ(*p.reward_window.duration, hours(2));
  EXPECT_EQ(p.algorithm, "sha256d");  // from mining.algorithm, no coin
  EXPECT_TRUE(c.api.enable);
  EXPECT_EQ(c.api.address.port, 8080);
  EXPECT_TRUE(c.api.auth.enabled);
  EXPECT_EQ(c.api.auth.token_expiry, hours(24));
  EXPECT_TRUE(c.monitoring.metrics.enabled);
  EXPECT_EQ(c.monitoring.metrics.address.port, 9090);
  EXPECT_EQ(c.monitoring.health.address.port, 8081);
  // No daemon: a warning, not an error.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("no coin daemon"), std::string::npos);
}

TEST(Config, ShippedExampleValidatesAndIsCompiledIn) {
  std::string file = read(OTEDAMA_SOURCE_DIR "/config.example.yaml");
  EXPECT_EQ(example_yaml(), file);
  auto r = load(file);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].format());
  EXPECT_EQ(r.config->logging.max_size, 10u << 20);
  EXPECT_EQ(r.config->storage.path, "./data/otedama.db");
  EXPECT_EQ(r.config->pools[0].difficulty.target_share_time, seconds(10));
}

TEST(Config, EmptyFileGivesDefaults) {
  auto r = load("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->app.mode, Mode::production);
  EXPECT_EQ(r.config->logging.level, "info");
  EXPECT_EQ(r.config->pools.size(), 1u);
}

TEST(Config, UnknownKeySuggestsAndNamesLine) {
  auto r = load("app:\n  name: x\npool:\n  adress: \"0.0.0.0:3333\"\n");
  const auto& e = only_error(r);
  EXPECT_EQ(e.key, "pool.adress");
  EXPECT_EQ(e.line, 4);
  EXPECT_NE(e.message.find("did you mean 'address'"), std::string::npos) << e.message;
  EXPECT_NE(e.format().find("test.yaml:4:"), std::string::npos) << e.format();
}

TEST(Config, UnknownSection) {
  auto r = load("minning: {}\n");
  const auto& e = only_error(r);
  EXPECT_EQ(e.key, "minning");
  EXPECT_NE(e.message.find("did you mean 'mining'"), std::string::npos);
}

TEST(Config, WrongTypes) {
  auto r = load("pool:\n  max_connections: lots\n  enable: maybe\napi:\n  address: [1, 2]\nmining:\n  cpu: 4\n");
  ASSERT_EQ(r.errors.size(), 4u);
  auto* e = find_error(r, "pool.max_connections");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 2);
  EXPECT_NE(e->message.find("expected an integer"), std::string::npos);
  e = find_error(r, "pool.enable");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("true or false"), std::string::npos);
  e = find_error(r, "api.address");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("got a list"), std::string::npos);
  e = find_error(r, "mining.cpu");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("expected a map"), std::string::npos);
}

TEST(Config, OutOfRange) {
  auto r = load("pool:\n  fee_percentage: 150\n  max_connections: 0\nmining:\n  gpu: {intensity: 99}\n");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_TRUE(find_error(r, "pool.fee_percentage"));
  EXPECT_TRUE(find_error(r, "pool.max_connections"));
  auto* e = find_error(r, "mining.gpu.intensity");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("out of range"), std::string::npos);
  EXPECT_EQ(e->line, 5);
}

TEST(Config, UnparsableDuration) {
  auto r = load("pool:\n  rewards: {system: PPLNS, window: \"2 hours\"}\n");
  const auto& e = only_error(r);
  EXPECT_EQ(e.key, "pool.rewards.window");
  EXPECT_EQ(e.line, 2);
  auto r2 = load("api:\n  auth: {token_expiry: soon}\n");
  EXPECT_EQ(only_error(r2).key, "api.auth.token_expiry");
}

TEST(Config, RewardWindowAsDifficultyMultiple) {
  auto r = load("pool:\n  rewards: {system: PPLNS, window: 2.5}\n");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.config->pools[0].reward_window.duration);
  EXPECT_DOUBLE_EQ(r.config->pools[0].reward_window.difficulty_multiple, 2.5);
}

TEST(Config, EnumsAndAddresses) {
  auto r = load("app: {mode: staging}\npool: {address: \"3333\", rewards: {system: PPLNT}}\n");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_NE(find_error(r, "app.mode")->message.find("development|production"), std::string::npos);
  EXPECT_NE(find_error(r, "pool.address")->message.find("host:port"), std::string::npos);
  EXPECT_NE(find_error(r, "pool.rewards.system")->message.find("PPLNS"), std::string::npos);
  auto v6 = load("api: {address: \"[::1]:8080\"}\n");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.config->api.address.host, "::1");
  EXPECT_EQ(v6.config->api.address.to_string(), "[::1]:8080");
  EXPECT_FALSE(parse_address("::1:80"));
  EXPECT_FALSE(parse_address("host:70000"));
  EXPECT_FALSE(parse_address(":80"));
}

TEST(Config, YamlSyntaxErrorHasLine) {
  auto r = load("app:\n  name: [unclosed\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_GT(r.errors[0].line, 0);
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(Config, EnvironmentOverrides) {
  auto r = load("pool:\n  rewards: {system: PPLNS, window: 2h}\n",
                {{"OTEDAMA_POOL__REWARDS__WINDOW", "4h"}, {"OTEDAMA_API__ENABLE", "false"},
                 {"OTEDAMA_MONITORING__HEALTH__ADDRESS", "127.0.0.1:18081"}, {"OTEDAMA_UNRELATED", "x"}});
  ASSERT_TRUE(r.ok()) << r.errors[0].format();
  EXPECT_EQ(*r.config->pools[0].reward_window.duration, hours(4));
  EXPECT_FALSE(r.config->api.enable);
  EXPECT_EQ(r.config->monitoring.health.address.port, 18081);
}

TEST(Config, EnvironmentErrorsNameTheVariable) {
  auto r = load("", {{"OTEDAMA_POOL__REWARDS__WINDOW", "forever"}});
  const auto& e = only_error(r);
  EXPECT_EQ(e.key, "pool.rewards.window");
  EXPECT_NE(e.format().find("OTEDAMA_POOL__REWARDS__WINDOW"), std::string::npos) << e.format();
  auto r2 = load("", {{"OTEDAMA_POOL__ADRESS", "x"}});
  EXPECT_NE(only_error(r2).message.find("did you mean 'address'"), std::string::npos);
}

TEST(Config, PoolsListAndCoinAlgorithms) {
  auto r = load(
      "pools:\n"
      "  - {coin: litecoin, address: \"127.0.0.1:3333\", daemon: {url: \"http://127.0.0.1:19443\"}}\n"
      "  - {coin: monero, address: \"127.0.0.1:3334\", daemon: {url: \"http://127.0.0.1:18081\"}}\n");
  ASSERT_TRUE(r.ok()) << r.errors[0].format();
  ASSERT_EQ(r.config->pools.size(), 2u);
  EXPECT_EQ(r.config->pools[0].algorithm, "scrypt");
  EXPECT_EQ(r.config->pools[0].name, "litecoin");
  EXPECT_EQ(r.config->pools[1].algorithm, "randomx");
  EXPECT_TRUE(r.warnings.empty());

  auto mismatch = load("pool: {coin: litecoin, algorithm: sha256d}\n");
  EXPECT_NE(only_error(mismatch).message.find("mines with scrypt"), std::string::npos);
  auto both = load("pool: {}\npools: []\n");
  EXPECT_EQ(only_error(both).key, "pools");
  auto dup = load("pools:\n  - {coin: litecoin}\n  - {coin: litecoin}\n");
  EXPECT_NE(only_error(dup).message.find("two pools are named"), std::string::npos);
  auto item = load("pools:\n  - {coin: dogecoin}\n");
  EXPECT_EQ(only_error(item).key, "pools[0].coin");
}

TEST(Config, DifficultyBounds) {
  EXPECT_TRUE(load("pool: {difficulty: {min: 2.3283064365386963e-10, initial: 0.001}}\n").ok());
  auto r = load("pool: {difficulty: {min: 1e-12}}\n");
  EXPECT_EQ(only_error(r).key, "pool.difficulty.min");
  auto r2 = load("pool: {difficulty: {initial: 5, min: 10, max: 100}}\n");
  EXPECT_EQ(only_error(r2).key, "pool.difficulty.initial");
}

TEST(Config, TlsAndDaemonChecks) {
  auto r = load("pool: {tls_address: \"0.0.0.0:3334\", daemon: {url: \"127.0.0.1:19443\", zmq: \"udp://x\"}}\n");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_TRUE(find_error(r, "pool.tls_address"));
  EXPECT_TRUE(find_error(r, "pool.daemon.url"));
  EXPECT_TRUE(find_error(r, "pool.daemon.zmq"));
}

TEST(Config, UsersNeedHashes) {
  auto r = load("api:\n  auth:\n    users:\n      - {name: admin, password_hash: hunter2}\n");
  EXPECT_EQ(only_error(r).key, "api.auth.users[0].password_hash");
  auto ok = load("api:\n  auth:\n    users:\n      - {name: admin, password_hash: \"$argon2id$v=19$x\"}\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.config->api.auth.users[0].role, "admin");
}

TEST(Config, ListsAreChecked) {
  auto r = load("p2p: {peers: [\"127.0.0.1:3335\", \"nohost\"]}\nmining: {gpu: {devices: [0, x]}}\n");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_TRUE(find_error(r, "p2p.peers[1]"));
  EXPECT_TRUE(find_error(r, "mining.gpu.devices[1]"));
}

TEST(Config, MissingFile) {
  auto r = load_file("/nonexistent/otedama.yaml", {});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].format().find("cannot read"), std::string::npos);
}

TEST(Config, PostgresNeedsDsn) {
  auto r = load("storage: {driver: postgres}\n");
  EXPECT_EQ(only_error(r).key, "storage.dsn");
}

TEST(Config, PoolFailoverTargets) {
  auto ok = load("pool: {failover: [\"10.0.0.2:3333\", \"[::1]:3334\", \"node-b.example:4444\"]}\n");
  ASSERT_TRUE(ok.ok()) << ok.errors[0].format();
  const auto& f = ok.config->pools.at(0).failover;
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].host, "10.0.0.2");
  EXPECT_EQ(f[0].port, 3333);
  EXPECT_EQ(f[1].host, "::1");
  EXPECT_EQ(f[1].port, 3334);
  EXPECT_EQ(f[2].to_string(), "node-b.example:4444");

  auto none = load("pool: {coin: litecoin}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.config->pools.at(0).failover.empty());

  auto bad = load("pool: {failover: [\"10.0.0.2\", \"0.0.0.0:3333\", \"10.0.0.3:3333\", \"h:99999\"]}\n");
  ASSERT_EQ(bad.errors.size(), 3u);
  EXPECT_TRUE(find_error(bad, "pool.failover[0]"));
  const auto* all = find_error(bad, "pool.failover[1]");
  ASSERT_TRUE(all);
  EXPECT_NE(all->format().find("listen-on-all"), std::string::npos);
  EXPECT_TRUE(find_error(bad, "pool.failover[3]"));

  EXPECT_TRUE(find_error(load("pool: {failover: \"10.0.0.2:3333\"}\n"), "pool.failover"));
}

TEST(Config, P2PTransportAndFederation) {
  auto d = load("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.config->p2p.outbound_peers, 8u);
  EXPECT_EQ(d.config->p2p.handshake_pow_bits, 18u);
  EXPECT_EQ(d.config->p2p.ban_time, minutes(10));
  EXPECT_FALSE(d.config->p2p.federation.enable);
  EXPECT_TRUE(d.config->p2p.federation.peers.empty());

  const std::string key_a(64, 'a');
  auto ok = load("p2p:\n"
                 "  outbound_peers: 4\n"
                 "  handshake_pow_bits: 12\n"
                 "  ban_time: 1h\n"
                 "  federation:\n"
                 "    enable: true\n"
                 "    key_file: /etc/otedama/federation.pem\n"
                 "    listen: 0.0.0.0:3340\n"
                 "    peers:\n"
                 "      - {name: pool-b, address: \"10.0.0.2:3340\", public_key: \"" + std::string(64, 'B') + "\"}\n"
                 "      - {name: pool-c, public_key: \"" + key_a + "\"}\n");
  ASSERT_TRUE(ok.ok()) << ok.errors[0].format();
  const auto& p = ok.config->p2p;
  EXPECT_EQ(p.outbound_peers, 4u);
  EXPECT_EQ(p.handshake_pow_bits, 12u);
  EXPECT_EQ(p.ban_time, hours(1));
  EXPECT_TRUE(p.federation.enable);
  EXPECT_EQ(p.federation.key_file, "/etc/otedama/federation.pem");
  ASSERT_TRUE(p.federation.listen);
  EXPECT_EQ(p.federation.listen->port, 3340);
  ASSERT_EQ(p.federation.peers.size(), 2u);
  EXPECT_EQ(p.federation.peers[0].name, "pool-b");
  ASSERT_TRUE(p.federation.peers[0].address);
  EXPECT_EQ(p.federation.peers[0].address->to_string(), "10.0.0.2:3340");
  EXPECT_EQ(p.federation.peers[0].public_key, std::string(64, 'b'));  // normalized to lower case
  EXPECT_FALSE(p.federation.peers[1].address);

  EXPECT_TRUE(find_error(load("p2p: {max_peers: 4, outbound_peers: 5}\n"), "p2p.outbound_peers"));
  EXPECT_TRUE(find_error(load("p2p: {handshake_pow_bits: 30}\n"), "p2p.handshake_pow_bits"));
  EXPECT_TRUE(find_error(load("p2p: {federation: {enable: true}}\n"), "p2p.federation.key_file"));
  EXPECT_TRUE(find_error(load("p2p: {federation: {listen: nowhere}}\n"), "p2p.federation.listen"));
  EXPECT_TRUE(find_error(load("p2p: {federation: {peers: {name: x}}}\n"), "p2p.federation.peers"));
  auto bad = load("p2p:\n  federation:\n    peers:\n"
                  "      - {name: a, public_key: \"abc\"}\n"
                  "      - {name: a, address: \"x\", public_key: \"" + key_a + "\"}\n"
                  "      - {name: c, public_key: \"" + key_a + "\", port: 1}\n"
                  "      - {public_key: \"" + std::string(64, 'z') + "\"}\n");
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[0].public_key"));
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[1].name"));     // duplicate name
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[1].address"));
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[2].public_key"));  // same key twice
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[2].port"));        // unknown key
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[3].name"));
  EXPECT_TRUE(find_error(bad, "p2p.federation.peers[3].public_key"));
}
