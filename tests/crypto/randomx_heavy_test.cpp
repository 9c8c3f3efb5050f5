// RandomX fast mode (2 GiB dataset): agrees with light mode and the reference vectors;
// the multi-threaded dataset initialization reports progress up to 100 %.
// Heavy: each dataset takes minutes to build on 2 cores and 2 GiB of memory.
#include <gtest/gtest.h>
#include <randomx.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "crypto/crypto.h"
#include "crypto/randomx.h"

namespace otedama::crypto {
namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/randomx.json");
  EXPECT_TRUE(f) << "cannot open randomx.json";
  return nlohmann::json::parse(f);
}

Bytes hex(const nlohmann::json& v) { return from_hex(v.get<std::string>()); }

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

// (RANDOMX_DATASET_BASE_SIZE + RANDOMX_DATASET_EXTRA_SIZE) / 64 for rx/0.
constexpr uint64_t kDatasetItems = 34078719;

TEST(RandomXFast, DatasetProgressVectorsAndLightAgreement) {
  const auto j = vectors();
  std::mutex m;
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  RandomXOptions o;
  o.init_threads = 2;
  o.progress = [&](uint64_t done, uint64_t total) {
    std::lock_guard lock(m);
    progress.emplace_back(done, total);
  };
  std::vector<std::string> log;
  o.log = [&](std::string_view line) { log.emplace_back(line); };
  RandomXContexts fast_contexts(o);

  const Bytes key0 = hex(j["rx0_v1"][0]["key_hex"]);  // "test key 000"
  auto epoch = fast_contexts.get(key0, RandomXMode::fast);
  ASSERT_NE(epoch->dataset(), nullptr);
  EXPECT_EQ(epoch->cache(), nullptr);  // released once the dataset is built
  ASSERT_FALSE(progress.empty());
  EXPECT_GT(progress.size(), 100u);  // reported along the way, not just at the end
  for (size_t i = 0; i < progress.size(); ++i) {
    EXPECT_EQ(progress[i].second, kDatasetItems);
    if (i) {
      EXPECT_GT(progress[i].first, progress[i - 1].first);
    }
  }
  EXPECT_EQ(progress.back().first, kDatasetItems);  // 100 %
  EXPECT_EQ(randomx_dataset_item_count(), kDatasetItems);
  ASSERT_FALSE(log.empty());  // at least the "ready" line
  for (const auto& line : log) std::cout << "log: " << line << "\n";
  std::cout << "dataset built in " << epoch->build_seconds() << " s, large pages "
            << epoch->large_pages() << ", notes: " << epoch->notes() << "\n";
  if (!epoch->large_pages()) {
    EXPECT_FALSE(epoch->notes().empty());
  }

  // Dataset items against the reference's intermediates.
  const auto* mem = static_cast<const uint8_t*>(randomx_get_dataset_memory(epoch->dataset()));
  for (const auto& item : j["intermediates"]["dataset_item_first_word_key_test_key_000"]) {
    uint64_t index = item["item"];
    uint64_t word = 0;
    for (int b = 7; b >= 0; --b) word = (word << 8) | mem[index * 64 + b];
    EXPECT_EQ(word, std::stoull(item["value_hex"].get<std::string>(), nullptr, 16)) << index;
  }

  // Every rx0 vector in fast mode; one hasher switching datasets between the two keys.
  RandomXHasher fast(RandomXMode::fast, fast_contexts);
  RandomXHasher light(RandomXMode::light, RandomXContexts::shared());
  for (int round = 0; round < 2; ++round)
    for (const auto& v : j["rx0_v1"]) {
      EXPECT_EQ(to_hex(fast.hash(hex(v["key_hex"]), hex(v["input_hex"]))), v["hash_hex"])
          << v["name"];
      EXPECT_EQ(fast.epoch()->mode(), RandomXMode::fast);
    }

  // Random inputs: fast == light, both keys, 0..300 bytes.
  std::mt19937_64 rng(20240601);
  for (const Bytes& key : {key0, hex(j["rx0_v1"][3]["key_hex"])})
    for (int i = 0; i < 16; ++i) {
      Bytes input = random_bytes(rng, rng() % 301);
      EXPECT_EQ(fast.hash(key, input), light.hash(key, input)) << to_hex(input);
    }
  EXPECT_EQ(fast_contexts.size(), 2u);
}

TEST(RandomXFast, FastAlgorithmSearchAgreesWithLight) {
  AlgorithmOptions fo;
  fo.randomx_fast = true;
  fo.init_threads = 2;
  auto fast = make_randomx_algorithm(fo);
  auto light = make_randomx_algorithm(AlgorithmOptions{});
  EXPECT_NE(fast->variant().find("fast (dataset)"), std::string::npos) << fast->variant();

  std::mt19937_64 rng(7);
  Work w;
  w.blob = random_bytes(rng, 76);
  w.nonce_offset = 39;
  for (auto& b : w.seed) b = uint8_t(rng());
  w.target = U256::max() >> 3;  // about one in eight

  std::vector<Found> found;
  const uint64_t first = 1000, last = 1255;
  EXPECT_EQ(fast->search(w, first, last, found), last - first + 1);
  std::cout << "variant: " << fast->variant() << ", large pages: " << fast->large_pages() << "\n";
  // Every nonce the light one-at-a-time loop accepts, and no other.
  std::vector<uint64_t> expected, got;
  for (uint64_t n = first; n <= last; ++n) {
    PowResult r = light->hash(w, n);
    if (light->meets(w, r)) expected.push_back(n);
    if (n % 16 == 0) {
      EXPECT_EQ(fast->hash(w, n).hash, r.hash) << n;
    }
  }
  for (const Found& f : found) {
    got.push_back(f.nonce);
    EXPECT_EQ(f.result.hash, light->hash(w, f.nonce).hash);
  }
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace otedama::crypto
