// KawPow (Ravencoin ProgPoW 0.9.4) against kawpow.json: hashes (light evaluation), seed
// words, the epoch-0 L1 cache, and the ProgPoW primitive vectors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/kawpow.json");
  return nlohmann::json::parse(f);
}

uint32_t word(const nlohmann::json& hex) { return static_cast<uint32_t>(std::stoul(hex.get<std::string>(), nullptr, 16)); }

nlohmann::json primitives() { return vectors()["progpow_primitives"]; }

}  // namespace

TEST(Kawpow, HashVectorsLight) {
  const auto list = vectors()["hash"];
  ASSERT_EQ(list.size(), 9u);
  for (const auto& v : list) {
    const uint64_t height = v["block_height"].get<uint64_t>();
    ASSERT_EQ(height / kKawpowEpochLength, v["epoch"].get<uint64_t>());
    ASSERT_EQ(height / kKawpowPeriodLength, v["period"].get<uint64_t>());
    const Hash256 header = hash_from_hex(v["header_hash_hex"].get<std::string>());
    const uint64_t nonce = std::stoull(v["nonce_hex"].get<std::string>(), nullptr, 16);
    const auto seed = kawpow_seed_words(header, nonce);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(seed[i], word(v["seed_words_hex"][i])) << "height " << height;
    const EthashResult r = kawpow_hash_light(height, header, nonce);
    EXPECT_EQ(to_hex(r.mix), v["mix_hash_hex"].get<std::string>()) << "height " << height;
    EXPECT_EQ(to_hex(r.final_hash), v["final_hash_hex"].get<std::string>()) << "height " << height;
  }
}

TEST(Kawpow, L1CacheEpoch0) {
  const auto expected = vectors()["l1_cache_epoch0_first20_words"];
  ASSERT_EQ(expected.size(), 20u);
  const auto ctx = kawpow_context(0);
  ASSERT_EQ(ctx->l1_cache.size(), progpow::kL1CacheWords);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(ctx->l1_cache[i], expected[i].get<uint32_t>()) << i;
  // Ethash's epoch-0 DAG (256 parents) starts differently.
  EXPECT_NE(ethash_context(EthashVariant::ethash, 0)->l1_cache[0], ctx->l1_cache[0]);
}

TEST(Kawpow, Fnv1a) {
  const auto list = primitives()["fnv1a"];
  ASSERT_EQ(list.size(), 3u);
  for (const auto& v : list) EXPECT_EQ(progpow::fnv1a(word(v["h"]), word(v["d"])), word(v["result"]));
}

TEST(Kawpow, Kiss99) {
  const auto k = primitives()["kiss99"];
  progpow::Kiss99 rng{k["init"]["z"].get<uint32_t>(), k["init"]["w"].get<uint32_t>(),
                      k["init"]["jsr"].get<uint32_t>(), k["init"]["jcong"].get<uint32_t>()};
  int checked = 0;
  for (int i = 1; i <= 100000; ++i) {
    const uint32_t out = rng.next();
    const std::string key = std::to_string(i);
    if (k["outputs"].contains(key)) {
      EXPECT_EQ(out, k["outputs"][key].get<uint32_t>()) << "output " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5);
}

TEST(Kawpow, FillMix) {
  const auto f = primitives()["fill_mix"];
  const uint64_t seed = std::stoull(f["hash_seed_hex"].get<std::string>(), nullptr, 16);
  const auto mix = progpow::init_mix(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int r = 0; r < progpow::kNumRegs; ++r) {
    EXPECT_EQ(mix[0][r], word(f["lane_0"][r])) << "reg " << r;
    EXPECT_EQ(mix[13][r], word(f["lane_13"][r])) << "reg " << r;
  }
}

TEST(Kawpow, ProgramInit) {
  const auto p = primitives()["prog_init_prog_seed_600"];
  const auto state = progpow::program_state(600);
  for (int i = 0; i < progpow::kNumRegs; ++i) {
    EXPECT_EQ(state.src_seq[i], word(p["src"][i])) << "src " << i;
    EXPECT_EQ(state.dst_seq[i], word(p["dst"][i])) << "dst " << i;
  }
  EXPECT_EQ(state.rng.z, word(p["kiss_state_after"]["z"]));
  EXPECT_EQ(state.rng.w, word(p["kiss_state_after"]["w"]));
  EXPECT_EQ(state.rng.jsr, word(p["kiss_state_after"]["jsr"]));
  EXPECT_EQ(state.rng.jcong, word(p["kiss_state_after"]["jcong"]));
}

TEST(Kawpow, Merge) {
  const auto list = primitives()["merge"];
  ASSERT_EQ(list.size(), 4u);
  for (const auto& v : list)
    EXPECT_EQ(progpow::random_merge(word(v["a"]), word(v["b"]), word(v["r"])), word(v["result"]));
}

TEST(Kawpow, Math) {
  const auto list = primitives()["math"];
  ASSERT_EQ(list.size(), 12u);
  for (const auto& v : list)
    EXPECT_EQ(progpow::random_math(word(v["a"]), word(v["b"]), word(v["r"])), word(v["result"]))
        << v["op"].get<std::string>();
}

// Full evaluation on a small dataset (real epoch-0 cache and L1) equals light evaluation.
TEST(Kawpow, LightAndFullAgreeOnSmallDataset) {
  const auto real = kawpow_context(0);
  auto ctx = std::make_shared<EthashContext>();
  ctx->spec = real->spec;
  ctx->light_cache_size = real->light_cache_size;
  ctx->light_cache = real->light_cache;
  ctx->l1_cache = real->l1_cache;
  ctx->full_dataset_size = 2053 * 256;  // 2053 2048-bit items
  const auto dataset = ctx->build_full_dataset(2);
  const Hash256 header = hash_from_hex("63155f732f2bf556967f906155b510c917e48e99685ead76ea83f4eca03ab12b");
  for (uint64_t nonce : {uint64_t{0}, uint64_t{0x7073c07}, ~uint64_t{0}}) {
    const EthashResult light = kawpow_hash_light(*ctx, 49, header, nonce);
    const EthashResult full = kawpow_hash_full(*ctx, *dataset, 49, header, nonce);
    EXPECT_EQ(light.mix, full.mix);
    EXPECT_EQ(light.final_hash, full.final_hash);
  }
}

TEST(Kawpow, AlgorithmHashAndSearch) {
  const auto v = vectors()["hash"][1];  // height 49
  auto algo = make_kawpow_algorithm({});
  EXPECT_EQ(algo->name(), "kawpow");
  Work work;
  const Hash256 header = hash_from_hex(v["header_hash_hex"].get<std::string>());
  work.blob.assign(header.begin(), header.end());
  work.height = v["block_height"].get<uint64_t>();
  const uint64_t nonce = std::stoull(v["nonce_hex"].get<std::string>(), nullptr, 16);
  const PowResult r = algo->hash(work, nonce);
  EXPECT_EQ(to_hex(r.hash), v["final_hash_hex"].get<std::string>());
  EXPECT_EQ(to_hex(r.mix), v["mix_hash_hex"].get<std::string>());
  EXPECT_EQ(algo->pow_value(r.hash), U256::from_hex(v["final_hash_hex"].get<std::string>()));

  work.target = U256::max() >> 2;
  std::vector<Found> found;
  EXPECT_EQ(algo->search(work, 5000, 5019, found), 20u);
  for (const auto& f : found) EXPECT_EQ(algo->hash(work, f.nonce).hash, f.result.hash);
  EXPECT_GT(found.size(), 0u);
  EXPECT_LT(found.size(), 20u);
}

TEST(Kawpow, BadInput) {
  auto algo = make_kawpow_algorithm({});
  Work work;
  work.blob.assign(33, 0);
  EXPECT_THROW(algo->hash(work, 0), std::invalid_argument);
  // A context of the wrong epoch (or an Ethash one) is refused before it is used.
  EthashContext epoch0;
  epoch0.spec = kawpow_epoch_spec(0);
  EXPECT_THROW(kawpow_hash_light(epoch0, 7500, Hash256{}, 0), std::invalid_argument);
  EthashContext ethash0;
  ethash0.spec = ethash_epoch_spec(EthashVariant::ethash, 0);
  EXPECT_THROW(kawpow_hash_light(ethash0, 0, Hash256{}, 0), std::invalid_argument);
  EXPECT_THROW(kawpow_hash_light(epoch0, 0, Hash256{}, 0), std::invalid_argument);  // no L1 cache
}
