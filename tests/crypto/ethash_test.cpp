// Ethash / etchash against ethash.json: seeds, sizes, light caches, DAG items, hashes (light
// evaluation), light vs full agreement on a small dataset, and the Algorithm wrapper.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/ethash.json");
  return nlohmann::json::parse(f);
}

uint64_t nonce_of(const nlohmann::json& v) { return std::stoull(v["nonce_hex"].get<std::string>(), nullptr, 16); }

EthashVariant variant_of(const nlohmann::json& v) {
  return v["chain"].get<std::string>().find("etchash") != std::string::npos ? EthashVariant::etchash
                                                                            : EthashVariant::ethash;
}

std::string node_hex(const EthashNode& n) { return to_hex(ByteSpan(reinterpret_cast<const uint8_t*>(n.words), 64)); }

// A context with a real epoch-0 light cache but a dataset of only `items` 1024-bit items, so
// that full evaluation (which needs the whole dataset) is affordable in a unit test.
std::shared_ptr<EthashContext> small_dataset_context(const EthashContext& real, uint64_t items) {
  auto ctx = std::make_shared<EthashContext>();
  ctx->spec = real.spec;
  ctx->seed = real.seed;
  ctx->light_cache_size = real.light_cache_size;
  ctx->light_cache = real.light_cache;
  ctx->l1_cache = real.l1_cache;
  ctx->full_dataset_size = items * 128;
  return ctx;
}

}  // namespace

TEST(Ethash, EpochSeeds) {
  const auto list = vectors()["epoch_seeds"];
  ASSERT_EQ(list.size(), 4u);
  for (const auto& v : list)
    EXPECT_EQ(to_hex(ethash_seed(v["epoch"].get<uint64_t>())), v["seed_hex"].get<std::string>());
}

TEST(Ethash, Sizes) {
  const auto list = vectors()["sizes"];
  ASSERT_EQ(list.size(), 27u);
  for (const auto& v : list) {
    const uint64_t epoch = v["epoch"].get<uint64_t>();
    EXPECT_EQ(ethash_light_cache_size(epoch), v["light_cache_size"].get<uint64_t>()) << "epoch " << epoch;
    EXPECT_EQ(ethash_full_dataset_size(epoch), v["full_dataset_size"].get<uint64_t>()) << "epoch " << epoch;
  }
}

TEST(Ethash, EpochRules) {
  EXPECT_EQ(ethash_epoch_of_block(EthashVariant::ethash, 29999), 0u);
  EXPECT_EQ(ethash_epoch_of_block(EthashVariant::ethash, 30000), 1u);
  // ECIP-1099: sizes of epoch E, seed of ethash epoch 2E, 60000-block epochs from 11.7M.
  EXPECT_EQ(ethash_epoch_spec(EthashVariant::etchash, 260), (EthashEpochSpec{260, 520, 256}));
  EXPECT_EQ(ethash_spec_for_block(EthashVariant::etchash, 15658542), (EthashEpochSpec{260, 520, 256}));
  EXPECT_EQ(ethash_spec_for_block(EthashVariant::etchash, 11700000), (EthashEpochSpec{195, 390, 256}));
  EXPECT_EQ(ethash_spec_for_block(EthashVariant::etchash, 11699999), (EthashEpochSpec{389, 389, 256}));
  EXPECT_EQ(ethash_spec_for_block(EthashVariant::ethash, 15658542), (EthashEpochSpec{521, 521, 256}));
  EXPECT_EQ(kawpow_epoch_spec(35), (EthashEpochSpec{35, 35, 512}));
}

TEST(Ethash, HashVectorsLight) {
  const auto list = vectors()["hash"];
  ASSERT_EQ(list.size(), 5u);
  for (const auto& v : list) {
    const EthashVariant variant = variant_of(v);
    const uint64_t block = v["block_number"].get<uint64_t>();
    ASSERT_EQ(ethash_epoch_of_block(variant, block), v["epoch"].get<uint64_t>());
    const Hash256 header = hash_from_hex(v["header_hash_hex"].get<std::string>());
    const EthashResult r = ethash_hash_light(variant, block, header, nonce_of(v));
    EXPECT_EQ(to_hex(r.mix), v["mix_hash_hex"].get<std::string>()) << "block " << block;
    EXPECT_EQ(to_hex(r.final_hash), v["final_hash_hex"].get<std::string>()) << "block " << block;
    // A different nonce gives a different result (the check can fail).
    EXPECT_NE(ethash_hash_light(variant, block, header, nonce_of(v) + 1).final_hash, r.final_hash);
  }
}

TEST(Ethash, LightCacheHashes) {
  const auto list = vectors()["light_cache_keccak256"];
  ASSERT_EQ(list.size(), 2u);
  for (const auto& v : list) {
    const uint64_t epoch = v["epoch"].get<uint64_t>();
    const auto ctx = ethash_context(EthashVariant::ethash, epoch);
    ASSERT_EQ(ctx->light_cache.size() * 64, ethash_light_cache_size(epoch));
    const ByteSpan bytes(reinterpret_cast<const uint8_t*>(ctx->light_cache.data()), ctx->light_cache_size);
    EXPECT_EQ(to_hex(keccak256(bytes)), v["keccak256_hex"].get<std::string>()) << "epoch " << epoch;
  }
}

TEST(Ethash, DatasetItemsEpoch13) {
  const auto list = vectors()["dataset_items_epoch13"];
  ASSERT_EQ(list.size(), 7u);
  const auto ctx = ethash_context(EthashVariant::ethash, 13);
  for (const auto& v : list) {
    const uint32_t item = v["index"].get<uint32_t>();
    EXPECT_EQ(node_hex(ethash_dag_node(*ctx, item * 2)), v["hash512_0_hex"].get<std::string>()) << item;
    EXPECT_EQ(node_hex(ethash_dag_node(*ctx, item * 2 + 1)), v["hash512_1_hex"].get<std::string>()) << item;
    EthashNode pair[2];
    ethash_dag_nodes(*ctx, item * 2, 2, pair);
    EXPECT_EQ(node_hex(pair[0]), v["hash512_0_hex"].get<std::string>()) << item;
    EXPECT_EQ(node_hex(pair[1]), v["hash512_1_hex"].get<std::string>()) << item;
  }
}

// The multi-threaded range builder, the 4-at-a-time path and single nodes agree.
TEST(Ethash, DagRangeMatchesSingleNodes) {
  const auto ctx = ethash_context(EthashVariant::ethash, 0);
  constexpr uint64_t first = 1000, count = 8195;  // not a multiple of the chunk or of 4
  std::vector<EthashNode> nodes(count);
  std::vector<double> progress;
  ethash_build_dag_range(*ctx, first, count, nodes.data(), 2, [&](double p) { progress.push_back(p); });
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GE(progress[i], progress[i - 1]);
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{4096}, count - 1}) {
    const EthashNode single = ethash_dag_node(*ctx, static_cast<uint32_t>(first + i));
    EXPECT_EQ(node_hex(nodes[i]), node_hex(single)) << "node " << first + i;
  }
  // The L1 cache is the first 16 KiB of the DAG.
  std::vector<EthashNode> head(256);
  ethash_build_dag_range(*ctx, 0, head.size(), head.data(), 1);
  EXPECT_EQ(std::memcmp(head.data(), ctx->l1_cache.data(), 16384), 0);
}

TEST(Ethash, LightAndFullAgreeOnSmallDataset) {
  const auto real = ethash_context(EthashVariant::ethash, 0);
  const auto ctx = small_dataset_context(*real, 4099);  // 4099 items (prime), 512 KiB
  const auto dataset = ctx->build_full_dataset(2);
  ASSERT_EQ(dataset->num_nodes, 2u * 4099);
  EXPECT_EQ(ctx->full_dataset(), dataset);
  EXPECT_EQ(ctx->build_full_dataset(2), dataset);  // built once
  const Hash256 header = hash_from_hex("2a8de2adf89af77358250bf908bf04ba94a6e8c3ba87775564a41d269a05e4ce");
  std::set<Hash256> finals;
  for (uint64_t nonce : {uint64_t{0}, uint64_t{1}, uint64_t{0x4242424242424242}, ~uint64_t{0}}) {
    const EthashResult light = ethash_hash_light(*ctx, header, nonce);
    const EthashResult full = ethash_hash_full(*ctx, *dataset, header, nonce);
    EXPECT_EQ(light.mix, full.mix);
    EXPECT_EQ(light.final_hash, full.final_hash);
    finals.insert(full.final_hash);
  }
  EXPECT_EQ(finals.size(), 4u);
  // A dataset of another size is refused.
  EXPECT_THROW(ethash_hash_full(*real, *dataset, header, 0), std::invalid_argument);
  ctx->drop_full_dataset();
  EXPECT_EQ(ctx->full_dataset(), nullptr);
}

TEST(Ethash, ContextCacheBuildsOnceUnderConcurrency) {
  std::vector<std::shared_ptr<const EthashContext>> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&got, i] { got[i] = ethash_context(EthashVariant::ethash, 1); });
  for (auto& t : threads) t.join();
  for (const auto& c : got) EXPECT_EQ(c, got[0]);
  EXPECT_EQ(got[0]->spec, (EthashEpochSpec{1, 1, 256}));
  EXPECT_EQ(ethash_context(EthashVariant::ethash, 1), got[0]);
}

TEST(Ethash, AlgorithmHashAndSearch) {
  const auto list = vectors()["hash"];
  const auto v = list[1];  // block 2, epoch 0
  auto algo = make_ethash_algorithm(EthashVariant::ethash, {});
  EXPECT_EQ(algo->name(), "ethash");
  EXPECT_EQ(make_ethash_algorithm(EthashVariant::etchash, {})->name(), "etchash");
  Work work;
  const Hash256 header = hash_from_hex(v["header_hash_hex"].get<std::string>());
  work.blob.assign(header.begin(), header.end());
  work.height = v["block_number"].get<uint64_t>();
  const PowResult r = algo->hash(work, nonce_of(v));
  EXPECT_EQ(to_hex(r.hash), v["final_hash_hex"].get<std::string>());
  EXPECT_EQ(to_hex(r.mix), v["mix_hash_hex"].get<std::string>());
  // pow_value reads the final hash big-endian.
  EXPECT_EQ(algo->pow_value(r.hash), U256::from_hex(v["final_hash_hex"].get<std::string>()));

  // Search with a target that about a quarter of the hashes meet; every find verifies.
  work.target = U256::max() >> 2;
  std::vector<Found> found;
  EXPECT_EQ(algo->search(work, 100, 139, found), 40u);
  EXPECT_GT(found.size(), 0u);
  EXPECT_LT(found.size(), 40u);
  for (const auto& f : found) {
    EXPECT_GE(f.nonce, 100u);
    EXPECT_LE(f.nonce, 139u);
    const PowResult check = algo->hash(work, f.nonce);
    EXPECT_EQ(check.hash, f.result.hash);
    EXPECT_TRUE(algo->meets(work, check));
  }
  std::atomic<bool> stop{true};
  EXPECT_EQ(algo->search(work, 0, 1000, found, &stop), 0u);
}

TEST(Ethash, BadInput) {
  auto algo = make_ethash_algorithm(EthashVariant::ethash, {});
  Work work;
  work.blob.assign(31, 0);
  EXPECT_THROW(algo->hash(work, 0), std::invalid_argument);
  work.blob.assign(80, 0);
  std::vector<Found> found;
  EXPECT_THROW(algo->search(work, 0, 1, found), std::invalid_argument);
  AlgorithmOptions bad;
  bad.variant = "avx512";
  EXPECT_THROW(make_ethash_algorithm(EthashVariant::ethash, bad), std::invalid_argument);
  EXPECT_THROW(ethash_context(EthashVariant::ethash, kEthashMaxEpoch + 1), std::invalid_argument);
  EXPECT_THROW(ethash_build_light_cache(Hash256{}, 100), std::invalid_argument);
  EXPECT_THROW(ethash_build_light_cache(Hash256{}, 0), std::invalid_argument);
  // A tiny hand-made context: the range checks need no real epoch.
  auto ctx = std::make_shared<EthashContext>();
  ctx->light_cache = ethash_build_light_cache(Hash256{}, 64 * 1024);
  ctx->full_dataset_size = 128 * 1024;
  EthashNode out[9];
  EXPECT_THROW(ethash_dag_nodes(*ctx, 0, 9, out), std::invalid_argument);
  EXPECT_THROW(ethash_build_dag_range(*ctx, ctx->full_dataset_size / 64, 1, out), std::invalid_argument);
  EXPECT_THROW(ethash_hash_light(EthashContext{}, Hash256{}, 0), std::invalid_argument);
}
