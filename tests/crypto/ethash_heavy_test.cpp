// Heavy (label `heavy`): full DAGs of 1 GiB and more. For Ethash and KawPow at two epochs
// each, build the dataset on all cores, check the vectors with full evaluation, check that
// light and full evaluation agree, and that what search() finds in full mode verifies with
// the pool's light check.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

nlohmann::json vectors(const char* file) {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/" + file);
  return nlohmann::json::parse(f);
}

uint64_t nonce_of(const nlohmann::json& v) { return std::stoull(v["nonce_hex"].get<std::string>(), nullptr, 16); }

std::shared_ptr<const EthashDataset> build_timed(const EthashContext& ctx, const char* what) {
  const auto start = std::chrono::steady_clock::now();
  double last = -1;
  auto dataset = ctx.build_full_dataset(0, [&](double p) {
    EXPECT_GE(p, last);
    last = p;
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ DAG      ] %s: %.2f GiB in %.1f s\n", what, ctx.full_dataset_size / double(1 << 30), s);
  EXPECT_EQ(last, 1.0);
  EXPECT_EQ(dataset->num_nodes, ctx.full_dataset_size / 64);
  return dataset;
}

// Full-mode search over a few nonces; every find must pass the light check.
void search_verifies(std::string_view name, uint64_t height, const Hash256& header) {
  AlgorithmOptions options;
  options.variant = "full";
  auto miner = name == "kawpow" ? make_kawpow_algorithm(options)
                                : make_ethash_algorithm(name == "etchash" ? EthashVariant::etchash
                                                                          : EthashVariant::ethash,
                                                        options);
  auto pool = name == "kawpow" ? make_kawpow_algorithm({})
                               : make_ethash_algorithm(name == "etchash" ? EthashVariant::etchash
                                                                         : EthashVariant::ethash,
                                                       {});
  Work work;
  work.blob.assign(header.begin(), header.end());
  work.height = height;
  work.target = U256::max() >> 4;  // about 1 in 16
  std::vector<Found> found;
  EXPECT_EQ(miner->search(work, 1 << 20, (1 << 20) + 255, found), 256u);
  EXPECT_EQ(miner->variant(), "full (dataset)");
  EXPECT_GT(found.size(), 2u);
  EXPECT_LT(found.size(), 64u);
  for (const auto& f : found) {
    const PowResult check = pool->hash(work, f.nonce);
    EXPECT_EQ(check.hash, f.result.hash);
    EXPECT_EQ(check.mix, f.result.mix);
    EXPECT_TRUE(pool->meets(work, check));
  }
}

}  // namespace

TEST(EthashHeavy, FullDagEpoch0And89) {
  const auto list = vectors("ethash.json")["hash"];
  for (uint64_t epoch : {uint64_t{0}, uint64_t{89}}) {
    const auto ctx = ethash_context(EthashVariant::ethash, epoch);
    const auto dataset = build_timed(*ctx, ("ethash epoch " + std::to_string(epoch)).c_str());
    int checked = 0;
    Hash256 header{};
    uint64_t height = 0;
    for (const auto& v : list) {
      if (v["chain"].get<std::string>().find("etchash") != std::string::npos) continue;
      if (v["epoch"].get<uint64_t>() != epoch) continue;
      header = hash_from_hex(v["header_hash_hex"].get<std::string>());
      height = v["block_number"].get<uint64_t>();
      const EthashResult full = ethash_hash_full(*ctx, *dataset, header, nonce_of(v));
      EXPECT_EQ(to_hex(full.mix), v["mix_hash_hex"].get<std::string>());
      EXPECT_EQ(to_hex(full.final_hash), v["final_hash_hex"].get<std::string>());
      ++checked;
    }
    EXPECT_GT(checked, 0);
    for (uint64_t nonce = 0; nonce < 64; ++nonce) {
      const uint64_t n = nonce * 0x9e3779b97f4a7c15ull;
      const EthashResult light = ethash_hash_light(*ctx, header, n);
      const EthashResult full = ethash_hash_full(*ctx, *dataset, header, n);
      ASSERT_EQ(light.mix, full.mix) << "nonce " << n;
      ASSERT_EQ(light.final_hash, full.final_hash) << "nonce " << n;
    }
    search_verifies("ethash", height, header);
    ctx->drop_full_dataset();
  }
}

TEST(EthashHeavy, FullDagKawpowEpoch0And4) {
  const auto list = vectors("kawpow.json")["hash"];
  for (uint64_t epoch : {uint64_t{0}, uint64_t{4}}) {
    const auto ctx = kawpow_context(epoch);
    const auto dataset = build_timed(*ctx, ("kawpow epoch " + std::to_string(epoch)).c_str());
    int checked = 0;
    Hash256 header{};
    uint64_t height = 0;
    for (const auto& v : list) {
      if (v["epoch"].get<uint64_t>() != epoch) continue;
      header = hash_from_hex(v["header_hash_hex"].get<std::string>());
      height = v["block_height"].get<uint64_t>();
      const EthashResult full = kawpow_hash_full(*ctx, *dataset, height, header, nonce_of(v));
      EXPECT_EQ(to_hex(full.mix), v["mix_hash_hex"].get<std::string>()) << height;
      EXPECT_EQ(to_hex(full.final_hash), v["final_hash_hex"].get<std::string>()) << height;
      ++checked;
    }
    EXPECT_GT(checked, 0);
    for (uint64_t nonce = 0; nonce < 16; ++nonce) {
      const uint64_t n = nonce * 0x9e3779b97f4a7c15ull;
      const EthashResult light = kawpow_hash_light(*ctx, height, header, n);
      const EthashResult full = kawpow_hash_full(*ctx, *dataset, height, header, n);
      ASSERT_EQ(light.mix, full.mix) << "nonce " << n;
      ASSERT_EQ(light.final_hash, full.final_hash) << "nonce " << n;
    }
    search_verifies("kawpow", height, header);
    ctx->drop_full_dataset();
  }
}
