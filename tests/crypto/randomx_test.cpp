// RandomX (rx/0) in light mode against the reference vectors (tests/vectors/randomx.json),
// plus the key cache, the per-thread hasher and the Algorithm's hash/search.
// Each new key costs one 256 MiB cache initialization (seconds here), so the tests share
// RandomXContexts::shared() and use few keys: "test key 000", "test key 001", the empty
// key and one 32-byte seed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/crypto.h"
#include "crypto/randomx.h"

namespace otedama::crypto {
namespace {

struct Vector {
  std::string name;
  Bytes key, input;
  std::string hash_hex;
};

std::vector<Vector> load(const char* section) {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/randomx.json");
  EXPECT_TRUE(f) << "cannot open randomx.json";
  nlohmann::json j = nlohmann::json::parse(f);
  std::vector<Vector> out;
  for (const auto& v : j.at(section))
    out.push_back({v.at("name"), from_hex(v.at("key_hex").get<std::string>()),
                   from_hex(v.at("input_hex").get<std::string>()), v.at("hash_hex")});
  return out;
}

Bytes ascii(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Monero's genesis block hash: the seed of the first RandomX epoch.
const Hash256 kSeed = hash_from_hex("418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3");

// Every ctest case is its own process and each key costs a cache initialization, so the
// cases below are grouped by the keys they need.

TEST(RandomX, RX0VectorsKeySwitchingAndPipelining) {
  auto v = load("rx0_v1");
  ASSERT_EQ(v.size(), 5u);
  for (const auto& x : v) EXPECT_EQ(to_hex(randomx_hash(x.key, x.input)), x.hash_hex) << x.name;

  // Contrast: the RANDOMX_FLAG_V2 hashes of the same inputs must not come out of rx/0.
  auto v2 = load("v2_not_rx0");
  ASSERT_EQ(v2.size(), v.size());
  for (size_t i = 0; i < v2.size(); ++i) {
    ASSERT_EQ(v2[i].key, v[i].key);
    ASSERT_EQ(v2[i].input, v[i].input);
    EXPECT_NE(to_hex(randomx_hash(v2[i].key, v2[i].input)), v2[i].hash_hex) << v2[i].name;
  }

  // One hasher following the key back and forth: 1c and 1d hash one input under keys
  // 000 and 001.
  const Vector& c = v[2];
  const Vector& d = v[3];
  ASSERT_EQ(c.input, d.input);
  ASSERT_NE(c.key, d.key);
  RandomXHasher hasher;
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(to_hex(hasher.hash(c.key, c.input)), c.hash_hex);
    EXPECT_EQ(hasher.epoch()->key(), c.key);
    EXPECT_EQ(to_hex(hasher.hash(d.key, d.input)), d.hash_hex);
    EXPECT_EQ(hasher.epoch()->key(), d.key);
  }
  EXPECT_EQ(to_hex(hasher.hash(d.key, v[4].input)), v[4].hash_hex);

  // Pipelined hashing (hash_first/next/last) gives the same hashes.
  hasher.begin(v[0].key, v[0].input);
  EXPECT_EQ(to_hex(hasher.next(v[1].input)), v[0].hash_hex);
  EXPECT_EQ(to_hex(hasher.next(v[2].input)), v[1].hash_hex);
  EXPECT_EQ(to_hex(hasher.finish()), v[2].hash_hex);
  EXPECT_THROW(hasher.finish(), std::logic_error);
  EXPECT_EQ(to_hex(hasher.hash(v[0].key, v[0].input)), v[0].hash_hex);
}

TEST(RandomX, SharedContextsBuildOnceAcrossThreads) {
  auto& contexts = RandomXContexts::shared();
  const Bytes key = ascii("test key 000");
  std::shared_ptr<const RandomXEpoch> a, b;
  std::thread t([&] { a = contexts.get(key, RandomXMode::light); });
  b = contexts.get(key, RandomXMode::light);
  t.join();
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(contexts.size(), 1u);
  EXPECT_EQ(contexts.find(key, RandomXMode::light).get(), a.get());
  EXPECT_EQ(contexts.find(key, RandomXMode::fast), nullptr);  // fast mode is never built here
  EXPECT_NE(a->cache(), nullptr);
  EXPECT_EQ(a->dataset(), nullptr);
  EXPECT_EQ(a->key(), key);
  // What the hasher gets from the shared set is that same epoch.
  RandomXHasher hasher;
  hasher.hash(key, ascii("x"));
  EXPECT_EQ(hasher.epoch().get(), a.get());
}

TEST(RandomX, EmptyKeyWorksAndLongKeysAreRejected) {
  Hash256 a = randomx_hash({}, ascii("This is a test"));
  Hash256 b = randomx_hash({}, {});
  EXPECT_NE(a, b);
  EXPECT_EQ(randomx_hash({}, ascii("This is a test")), a);  // deterministic
  // The empty key is a key of its own, not "test key 000".
  EXPECT_NE(to_hex(a), load("rx0_v1")[0].hash_hex);

  EXPECT_NO_THROW(check_randomx_key(Bytes(60, 0x11)));
  Bytes key61(61, 0x11);
  EXPECT_THROW(randomx_hash(key61, ascii("x")), std::invalid_argument);
  RandomXContexts contexts;
  EXPECT_THROW(contexts.get(key61, RandomXMode::light), std::invalid_argument);
  EXPECT_THROW(contexts.prepare(key61, RandomXMode::light), std::invalid_argument);
  EXPECT_THROW(RandomXEpoch::build(key61, RandomXMode::light), std::invalid_argument);
}

TEST(RandomX, EvictedEpochStaysAliveWhileInUse) {
  // keep_per_mode = 1: the second key evicts the first from the set, but the hasher
  // that still holds it keeps hashing correctly.
  auto v = load("rx0_v1");
  RandomXContexts contexts({}, 1);
  RandomXHasher old_hasher(RandomXMode::light, contexts);
  EXPECT_EQ(to_hex(old_hasher.hash(v[0].key, v[0].input)), v[0].hash_hex);
  std::weak_ptr<const RandomXEpoch> old_epoch = old_hasher.epoch();

  contexts.prepare(v[3].key, RandomXMode::light);  // next seed, built in the background
  EXPECT_EQ(to_hex(old_hasher.hash(v[0].key, v[1].input)), v[1].hash_hex);
  auto next = contexts.get(v[3].key, RandomXMode::light);
  EXPECT_EQ(contexts.size(), 1u);
  EXPECT_EQ(contexts.find(v[0].key, RandomXMode::light), nullptr);
  EXPECT_FALSE(old_epoch.expired());
  EXPECT_EQ(to_hex(old_hasher.hash(v[0].key, v[2].input)), v[2].hash_hex);

  RandomXHasher new_hasher(RandomXMode::light, contexts);
  EXPECT_EQ(to_hex(new_hasher.hash(v[3].key, v[3].input)), v[3].hash_hex);
  EXPECT_EQ(new_hasher.epoch().get(), next.get());
  // Once the old hasher moves on, the old cache is freed.
  EXPECT_EQ(to_hex(old_hasher.hash(v[4].key, v[4].input)), v[4].hash_hex);
  EXPECT_TRUE(old_epoch.expired());
}

Work monero_work() {
  Work w;
  w.blob = load("rx0_v1")[4].input;  // a 76-byte Monero hashing blob, nonce at 39
  w.nonce_offset = 39;
  w.seed = kSeed;
  return w;
}

TEST(RandomXAlgorithm, SearchFindsWhatAOneByOneLoopFinds) {
  auto algo = make_randomx_algorithm(AlgorithmOptions{});
  Work w = monero_work();
  w.target = U256::max() >> 1;  // about one nonce in two
  const uint64_t first = 0xfffffff8, last = 0xffffffff;  // up to the top of the 4-byte field
  std::vector<uint64_t> expected;
  std::map<uint64_t, Hash256> hashes;
  for (uint64_t n = first; n <= last; ++n) {
    hashes[n] = algo->hash(w, n).hash;
    if (algo->meets(w, PowResult{hashes[n], {}})) expected.push_back(n);
  }
  ASSERT_FALSE(expected.empty());
  ASSERT_LT(expected.size(), last - first + 1);

  std::vector<Found> found;
  EXPECT_EQ(algo->search(w, first, last, found), last - first + 1);
  std::vector<uint64_t> got;
  for (const Found& f : found) {
    got.push_back(f.nonce);
    EXPECT_EQ(f.result.hash, hashes[f.nonce]);
  }
  EXPECT_EQ(got, expected);

  // A single nonce, and a stop flag already raised.
  found.clear();
  EXPECT_EQ(algo->search(w, expected[0], expected[0], found), 1u);
  ASSERT_EQ(found.size(), 1u);
  std::atomic<bool> stop{true};
  found.clear();
  EXPECT_EQ(algo->search(w, first, last, found, &stop), 0u);
  EXPECT_TRUE(found.empty());
}

TEST(RandomXAlgorithm, HashPutsTheNonceAtTheOffsetAndRejectsBadWork) {
  AlgorithmOptions o;
  auto algo = make_randomx_algorithm(o);
  EXPECT_EQ(algo->name(), "randomx");
  EXPECT_NE(algo->variant().find("light (cache)"), std::string::npos) << algo->variant();
  Work w = monero_work();
  Bytes blob = w.blob;
  blob[39] = 0x78, blob[40] = 0x56, blob[41] = 0x34, blob[42] = 0x12;
  PowResult r = algo->hash(w, 0x12345678);
  EXPECT_EQ(r.hash, randomx_hash(kSeed, blob));
  EXPECT_EQ(r.mix, Hash256{});
  EXPECT_EQ(algo->pow_value(r.hash), U256::from_le_bytes(r.hash.data()));

  // Bad work.
  w = monero_work();
  std::vector<Found> found;
  EXPECT_THROW(algo->hash(w, 0x100000000ull), std::invalid_argument);
  EXPECT_THROW(algo->search(w, 0xfffffffe, 0x100000000ull, found), std::invalid_argument);
  w.nonce_offset = w.blob.size() - 3;
  EXPECT_THROW(algo->hash(w, 0), std::invalid_argument);
  EXPECT_THROW(algo->search(w, 0, 1, found), std::invalid_argument);
  w.nonce_offset = w.blob.size() + 10;
  EXPECT_THROW(algo->hash(w, 0), std::invalid_argument);
  w.blob.clear();
  w.nonce_offset = 0;
  EXPECT_THROW(algo->hash(w, 0), std::invalid_argument);
  // The nonce may sit at the very end.
  w = monero_work();
  w.nonce_offset = w.blob.size() - 4;
  EXPECT_NO_THROW(algo->hash(w, 7));
}

}  // namespace
}  // namespace otedama::crypto
