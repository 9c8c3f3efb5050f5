// Legacy Keccak-256/512 and the Keccak-f[1600]/[800] permutations against keccak.json.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/keccak.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/keccak.json");
  return nlohmann::json::parse(f);
}

void check_messages(const nlohmann::json& list) {
  ASSERT_FALSE(list.empty());
  for (const auto& v : list) {
    const Bytes msg = from_hex(v["message_hex"].get<std::string>());
    ASSERT_EQ(msg.size(), v["length"].get<size_t>());
    EXPECT_EQ(to_hex(keccak256(msg)), v["keccak256_hex"].get<std::string>()) << "length " << msg.size();
    EXPECT_EQ(to_hex(keccak512(msg)), v["keccak512_hex"].get<std::string>()) << "length " << msg.size();
  }
}

}  // namespace

TEST(Keccak, ChfastTextPrefixes) { check_messages(vectors()["hash_chfast_text_prefixes"]); }

TEST(Keccak, P2poolMessages) { check_messages(vectors()["hash_p2pool"]); }

TEST(Keccak, MillionA) {
  const auto j = vectors()["hash_special"];
  const Bytes msg(1000000, 'a');
  bool checked = false;
  for (const auto& v : j) {
    if (v["message"].get<std::string>().rfind("1,000,000", 0) != 0) continue;
    EXPECT_EQ(to_hex(keccak256(msg)), v["keccak256_hex"].get<std::string>());
    EXPECT_EQ(to_hex(keccak512(msg)), v["keccak512_hex"].get<std::string>());
    checked = true;
  }
  EXPECT_TRUE(checked);
}

// FIPS-202 SHA3-256 (OpenSSL) pads with 0x06: the vector must be SHA3's, and ours must differ.
TEST(Keccak, DiffersFromSha3) {
  std::string sha3_hex;
  const auto special = vectors()["hash_special"];
  for (const auto& v : special)
    if (v.contains("sha3_256_hex")) sha3_hex = v["sha3_256_hex"].get<std::string>();
  ASSERT_FALSE(sha3_hex.empty());
  uint8_t md[32];
  unsigned len = 0;
  ASSERT_EQ(EVP_Digest("", 0, md, &len, EVP_sha3_256(), nullptr), 1);
  EXPECT_EQ(to_hex(ByteSpan(md, len)), sha3_hex);
  EXPECT_NE(to_hex(keccak256({})), sha3_hex);
  EXPECT_EQ(to_hex(keccak256({})), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

TEST(Keccak, F1600Permutation) {
  const auto list = vectors()["permutations"]["keccak_f1600"];
  ASSERT_FALSE(list.empty());
  for (const auto& v : list) {
    uint64_t st[25];
    for (int i = 0; i < 25; ++i) st[i] = std::stoull(v["state_in_lanes_hex"][i].get<std::string>(), nullptr, 16);
    keccakf1600(st);
    for (int i = 0; i < 25; ++i)
      EXPECT_EQ(st[i], std::stoull(v["state_out_lanes_hex"][i].get<std::string>(), nullptr, 16)) << "lane " << i;
  }
}

TEST(Keccak, F800Permutation) {
  const auto list = vectors()["permutations"]["keccak_f800"];
  ASSERT_FALSE(list.empty());
  for (const auto& v : list) {
    uint32_t st[25];
    for (int i = 0; i < 25; ++i)
      st[i] = static_cast<uint32_t>(std::stoul(v["state_in_words_hex"][i].get<std::string>(), nullptr, 16));
    keccakf800(st);
    for (int i = 0; i < 25; ++i)
      EXPECT_EQ(st[i], std::stoul(v["state_out_words_hex"][i].get<std::string>(), nullptr, 16)) << "word " << i;
  }
}

// The fixed-size node hash must equal the general sponge on 64 bytes.
TEST(Keccak, Keccak512Of64BytesMatchesSponge) {
  for (int seed = 0; seed < 8; ++seed) {
    std::array<uint8_t, 64> data;
    for (int i = 0; i < 64; ++i) data[i] = static_cast<uint8_t>(i * 37 + seed * 101);
    const auto expected = keccak512(data);
    keccak512_64(data.data());
    EXPECT_EQ(data, expected);
  }
}
