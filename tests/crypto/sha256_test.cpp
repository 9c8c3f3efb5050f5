// SHA-256 / SHA256d / sha256d_scan against the vectors and OpenSSL, for every kernel the CPU has.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

Hash256 openssl_sha256(ByteSpan data) {
  Hash256 out;
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != 32)
    throw std::runtime_error("EVP_Digest failed");
  return out;
}

Hash256 openssl_sha256d(ByteSpan data) { return openssl_sha256(openssl_sha256(data)); }

nlohmann::json load_vectors() {
  std::ifstream in(std::string(OTEDAMA_VECTORS_DIR) + "/sha256d.json");
  if (!in) throw std::runtime_error("cannot open sha256d.json");
  return nlohmann::json::parse(in);
}

void set_nonce(uint8_t* header, uint32_t nonce) {
  for (int b = 0; b < 4; ++b) header[76 + b] = uint8_t(nonce >> (8 * b));
}

// The plain one-nonce-at-a-time search, with OpenSSL as the hash.
std::vector<uint32_t> reference_scan(const uint8_t header[80], const U256& target, uint32_t first, uint32_t last) {
  std::vector<uint32_t> hits;
  uint8_t h[80];
  std::memcpy(h, header, 80);
  for (uint64_t n = first; n <= last; ++n) {
    set_nonce(h, uint32_t(n));
    Hash256 d = openssl_sha256d(ByteSpan(h, 80));
    if (U256::from_le_bytes(d.data()) <= target) hits.push_back(uint32_t(n));
  }
  return hits;
}

U256 digest_value(const uint8_t header[80], uint32_t nonce) {
  uint8_t h[80];
  std::memcpy(h, header, 80);
  set_nonce(h, nonce);
  Hash256 d = openssl_sha256d(ByteSpan(h, 80));
  return U256::from_le_bytes(d.data());
}

U256 minus_one(U256 v) {
  for (auto& limb : v.w)
    if (limb-- != 0) break;
  return v;
}

std::array<uint8_t, 80> random_header(uint32_t seed) {
  std::mt19937 rng(seed);
  std::array<uint8_t, 80> h;
  for (auto& b : h) b = uint8_t(rng());
  return h;
}

class ShaImplTest : public ::testing::TestWithParam<ShaImpl> {
 protected:
  void SetUp() override {
    if (!sha_impl_supported(GetParam())) GTEST_SKIP() << to_string(GetParam()) << " not supported by this CPU";
  }
  ShaImpl impl() const { return GetParam(); }
};

std::string impl_name(const ::testing::TestParamInfo<ShaImpl>& info) {
  switch (info.param) {
    case ShaImpl::portable: return "portable";
    case ShaImpl::shani: return "shani";
    case ShaImpl::avx2: return "avx2";
    case ShaImpl::avx512: return "avx512";
    case ShaImpl::shani_avx512: return "shani_avx512";
  }
  return "unknown";
}

}  // namespace

TEST(Sha256Dispatch, NamesAndSupport) {
  EXPECT_STREQ(to_string(ShaImpl::portable), "portable");
  EXPECT_STREQ(to_string(ShaImpl::shani), "sha-ni");
  EXPECT_STREQ(to_string(ShaImpl::avx2), "avx2");
  EXPECT_STREQ(to_string(ShaImpl::avx512), "avx512");
  EXPECT_STREQ(to_string(ShaImpl::shani_avx512), "sha-ni+avx512");
  EXPECT_TRUE(sha_impl_supported(ShaImpl::portable));
  EXPECT_TRUE(sha_impl_supported(best_sha_impl()));
  for (ShaImpl i : {ShaImpl::portable, ShaImpl::shani, ShaImpl::avx2, ShaImpl::avx512, ShaImpl::shani_avx512})
    EXPECT_EQ(sha_impl_from_string(to_string(i)), i);
  EXPECT_FALSE(sha_impl_from_string("sse4").has_value());
  // The fastest search kernel the CPU has: the wider and the more streams, the faster.
  ShaImpl expect = ShaImpl::portable;
  for (ShaImpl i : {ShaImpl::avx2, ShaImpl::shani, ShaImpl::avx512, ShaImpl::shani_avx512})
    if (sha_impl_supported(i)) expect = i;
  EXPECT_EQ(best_sha_impl(), expect);
}

TEST(Sha256Dispatch, DefaultFunctionsMatchVectors) {
  auto v = load_vectors();
  for (const auto& m : v["raw_messages"]) {
    Bytes msg = from_hex(m["message_hex"].get<std::string>());
    EXPECT_EQ(to_hex(sha256(msg)), m["sha256_hex"].get<std::string>());
    EXPECT_EQ(to_hex(sha256d(msg)), m["sha256d_hex"].get<std::string>());
  }
  for (const auto& b : v["block_headers"]) {
    Bytes header = from_hex(b["header_hex"].get<std::string>());
    EXPECT_EQ(to_hex(sha256d(header)), b["sha256d_raw_digest_hex"].get<std::string>()) << b["name"];
  }
}

TEST_P(ShaImplTest, RawMessageVectors) {
  auto v = load_vectors();
  ASSERT_FALSE(v["raw_messages"].empty());
  for (const auto& m : v["raw_messages"]) {
    Bytes msg = from_hex(m["message_hex"].get<std::string>());
    EXPECT_EQ(to_hex(sha256(impl(), msg)), m["sha256_hex"].get<std::string>()) << m["note"];
    EXPECT_EQ(to_hex(sha256d(impl(), msg)), m["sha256d_hex"].get<std::string>()) << m["note"];
  }
}

TEST_P(ShaImplTest, BlockHeaderVectors) {
  auto v = load_vectors();
  ASSERT_FALSE(v["block_headers"].empty());
  for (const auto& b : v["block_headers"]) {
    const std::string name = b["name"];
    Bytes header = from_hex(b["header_hex"].get<std::string>());
    ASSERT_EQ(header.size(), 80u) << name;
    const std::string digest = b["sha256d_raw_digest_hex"];
    EXPECT_EQ(to_hex(sha256d(impl(), header)), digest) << name;
    EXPECT_EQ(to_hex(reversed(sha256d(impl(), header))), b["block_hash_display_hex"].get<std::string>()) << name;

    // The search finds the block's nonce against the block's target, alone and inside a range.
    const uint32_t nonce = b["nonce"].get<uint32_t>();
    const U256 target = U256::from_hex(b["target_from_bits_display_hex"].get<std::string>());
    ASSERT_EQ(U256::from_le_bytes(from_hex(digest).data()) <= target, b["hash_meets_target"].get<bool>());
    std::vector<uint32_t> hits;
    EXPECT_EQ(sha256d_scan(impl(), header.data(), target, nonce, nonce, hits), 1u);
    EXPECT_EQ(hits, std::vector<uint32_t>{nonce}) << name;
    hits.clear();
    const uint32_t lo = nonce >= 37 ? nonce - 37 : 0;
    const uint32_t hi = nonce <= 0xffffffffu - 41 ? nonce + 41 : 0xffffffffu;
    EXPECT_EQ(sha256d_scan(impl(), header.data(), target, lo, hi, hits), uint64_t(hi) - lo + 1);
    EXPECT_EQ(hits, reference_scan(header.data(), target, lo, hi)) << name;
    EXPECT_NE(std::find(hits.begin(), hits.end(), nonce), hits.end()) << name;
    // The exact digest as target admits the nonce; one less excludes it.
    const U256 exact = U256::from_le_bytes(from_hex(digest).data());
    hits.clear();
    sha256d_scan(impl(), header.data(), exact, nonce, nonce, hits);
    EXPECT_EQ(hits.size(), 1u) << name;
    hits.clear();
    sha256d_scan(impl(), header.data(), minus_one(exact), nonce, nonce, hits);
    EXPECT_TRUE(hits.empty()) << name;
  }
}

TEST_P(ShaImplTest, AllLengthsMatchOpenSSL) {
  std::mt19937 rng(1234);
  for (size_t len = 0; len <= 300; ++len) {
    Bytes msg(len);
    for (auto& b : msg) b = uint8_t(rng());
    ASSERT_EQ(to_hex(sha256(impl(), msg)), to_hex(openssl_sha256(msg))) << "length " << len;
    ASSERT_EQ(to_hex(sha256d(impl(), msg)), to_hex(openssl_sha256d(msg))) << "length " << len;
  }
}

TEST(Sha256Avx2, EightDifferentLanesMatchPortable) {
  if (!sha_impl_supported(ShaImpl::avx2)) GTEST_SKIP() << "avx2 not supported";
  std::mt19937 rng(99);
  for (int trial = 0; trial < 50; ++trial) {
    uint32_t states[8][8], expect[8][8];
    uint8_t blocks[8][64];
    const uint8_t* ptrs[8];
    for (int l = 0; l < 8; ++l) {
      for (auto& w : states[l]) w = rng();
      for (auto& b : blocks[l]) b = uint8_t(rng());
      std::memcpy(expect[l], states[l], 32);
      sha256_detail::compress_portable(expect[l], blocks[l], 1);
      ptrs[l] = blocks[l];
    }
    sha256_detail::compress_avx2_x8(states, ptrs);
    for (int l = 0; l < 8; ++l)
      for (int k = 0; k < 8; ++k) ASSERT_EQ(states[l][k], expect[l][k]) << "lane " << l << " word " << k;
  }
}

TEST(Sha256Avx512, SixteenDifferentLanesMatchPortable) {
  if (!sha_impl_supported(ShaImpl::avx512)) GTEST_SKIP() << "avx512 not supported";
  std::mt19937 rng(98);
  for (int trial = 0; trial < 50; ++trial) {
    uint32_t states[16][8], expect[16][8];
    uint8_t blocks[16][64];
    const uint8_t* ptrs[16];
    for (int l = 0; l < 16; ++l) {
      for (auto& w : states[l]) w = rng();
      for (auto& b : blocks[l]) b = uint8_t(rng());
      std::memcpy(expect[l], states[l], 32);
      sha256_detail::compress_portable(expect[l], blocks[l], 1);
      ptrs[l] = blocks[l];
    }
    sha256_detail::compress_avx512_x16(states, ptrs);
    for (int l = 0; l < 16; ++l)
      for (int k = 0; k < 8; ++k) ASSERT_EQ(states[l][k], expect[l][k]) << "lane " << l << " word " << k;
  }
}

// The kernels' own filter: exactly the nonces whose digest word 7 passes, in every lane.
TEST_P(ShaImplTest, KernelCandidatesAreExactlyTheTopWordPasses) {
  auto kernel = impl() == ShaImpl::shani    ? sha256_detail::scan_shani
                : impl() == ShaImpl::avx2   ? sha256_detail::scan_avx2
                : impl() == ShaImpl::avx512 ? sha256_detail::scan_avx512
                : impl() == ShaImpl::shani_avx512 ? sha256_detail::scan_shani_avx512
                                            : sha256_detail::scan_portable;
  for (uint32_t top : {0xffffffffu, 0x80000000u, 0x3fffffffu, 0x01000000u, 0u}) {
    auto header = random_header(top);
    U256 target;
    target.w[3] = uint64_t(top) << 32;
    auto ctx = sha256_detail::make_scan_context(header.data(), target);
    const uint32_t first = 0xfffffe00u + top % 7, count = 509;
    std::vector<uint32_t> got(count), want;
    got.resize(kernel(ctx, first, count, got.data()));
    for (uint32_t i = 0; i < count; ++i) {
      uint8_t h[80];
      std::memcpy(h, header.data(), 80);
      set_nonce(h, first + i);
      Hash256 d = openssl_sha256d(ByteSpan(h, 80));
      uint32_t word = uint32_t(d[28]) | uint32_t(d[29]) << 8 | uint32_t(d[30]) << 16 | uint32_t(d[31]) << 24;
      if (word <= top) want.push_back(first + i);
    }
    EXPECT_EQ(got, want) << "top " << top;
  }
}

TEST_P(ShaImplTest, ScanMatchesPlainLoopOverTargetsAndRanges) {
  auto header = random_header(7);
  std::vector<U256> targets = {U256::max(), U256::max() >> 1, U256::max() >> 3, U256::max() >> 31,
                               U256::max() >> 32, U256::max() >> 40, U256::from_u64(1), U256{}};
  // Targets equal to a nonce's digest exercise the full comparison when the top words tie.
  targets.push_back(digest_value(header.data(), 0xfffffff0u));
  targets.push_back(minus_one(digest_value(header.data(), 0xfffffff0u)));
  targets.push_back(digest_value(header.data(), 1005));
  struct Range { uint32_t first, last; };
  const std::vector<Range> ranges = {
      {0xffffffffu, 0xffffffffu}, {0xffffffe0u, 0xffffffffu}, {0xfffffff0u, 0xffffffffu - 3},
      {0, 0}, {12345, 12345}, {1000, 1006}, {1000, 1016}, {999, 1023}, {77, 77 + 130}, {0, 200}};
  for (const U256& target : targets) {
    for (const Range& r : ranges) {
      std::vector<uint32_t> hits;
      const uint64_t done = sha256d_scan(impl(), header.data(), target, r.first, r.last, hits);
      EXPECT_EQ(done, uint64_t(r.last) - r.first + 1);
      EXPECT_EQ(hits, reference_scan(header.data(), target, r.first, r.last))
          << "target " << target.to_hex() << " range " << r.first << ".." << r.last;
    }
  }
}

TEST_P(ShaImplTest, ScanAcrossChunksAndStop) {
  auto header = random_header(11);
  const U256 target = U256::max() >> 6;  // about 1 in 64 passes
  const uint32_t first = 0xffffffffu - 300000;
  std::vector<uint32_t> hits;
  EXPECT_EQ(sha256d_scan(impl(), header.data(), target, first, 0xffffffffu, hits), 300001u);
  // Spot-check against the plain loop on slices at both ends.
  std::vector<uint32_t> head, tail;
  for (uint32_t n : hits) {
    if (n <= first + 3000) head.push_back(n);
    if (n >= 0xffffffffu - 3000) tail.push_back(n);
  }
  EXPECT_EQ(head, reference_scan(header.data(), target, first, first + 3000));
  EXPECT_EQ(tail, reference_scan(header.data(), target, 0xffffffffu - 3000, 0xffffffffu));
  EXPECT_GT(hits.size(), 300001u / 64 / 2);
  EXPECT_LT(hits.size(), 300001u / 64 * 2);
  EXPECT_TRUE(std::is_sorted(hits.begin(), hits.end()));

  std::atomic<bool> stop{true};
  hits.clear();
  EXPECT_EQ(sha256d_scan(impl(), header.data(), U256::max(), 0, 0xffffffffu, hits, &stop), 0u);
  EXPECT_TRUE(hits.empty());
}

TEST_P(ShaImplTest, AlgorithmInterface) {
  AlgorithmOptions o;
  o.variant = to_string(impl());
  auto algo = make_sha256d_algorithm(o);
  EXPECT_EQ(algo->name(), "sha256d");
  EXPECT_EQ(algo->variant().rfind(to_string(impl()), 0), 0u) << algo->variant();
  auto v = load_vectors();
  for (const auto& b : v["block_headers"]) {
    Work work;
    work.blob = from_hex(b["header_hex"].get<std::string>());
    work.target = U256::from_hex(b["target_from_bits_display_hex"].get<std::string>());
    const uint32_t nonce = b["nonce"].get<uint32_t>();
    PowResult r = algo->hash(work, nonce);
    EXPECT_EQ(to_hex(r.hash), b["sha256d_raw_digest_hex"].get<std::string>());
    EXPECT_TRUE(algo->meets(work, r));
    std::vector<Found> found;
    const uint64_t lo = nonce >= 500 ? nonce - 500 : 0, hi = std::min<uint64_t>(nonce + 500, 0xffffffffu);
    EXPECT_EQ(algo->search(work, lo, hi, found), hi - lo + 1);
    auto want = reference_scan(work.blob.data(), work.target, uint32_t(lo), uint32_t(hi));
    ASSERT_EQ(found.size(), want.size());
    for (size_t i = 0; i < found.size(); ++i) {
      EXPECT_EQ(found[i].nonce, want[i]);
      EXPECT_EQ(found[i].result.hash, algo->hash(work, found[i].nonce).hash);
      EXPECT_TRUE(algo->meets(work, found[i].result));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, ShaImplTest,
                         ::testing::Values(ShaImpl::portable, ShaImpl::shani, ShaImpl::avx2, ShaImpl::avx512,
                                           ShaImpl::shani_avx512), impl_name);

TEST(Sha256Errors, BadInputThrows) {
  uint8_t header[80] = {};
  std::vector<uint32_t> hits;
  EXPECT_THROW(sha256d_scan(ShaImpl::portable, header, U256::max(), 5, 4, hits), std::invalid_argument);

  AlgorithmOptions o;
  o.variant = "sse4";
  EXPECT_THROW(make_sha256d_algorithm(o), std::invalid_argument);
  o.variant = "auto";
  auto algo = make_sha256d_algorithm(o);
  EXPECT_EQ(algo->variant().rfind(to_string(best_sha_impl()), 0), 0u);
  Work w;
  w.blob = Bytes(79);
  EXPECT_THROW(algo->hash(w, 0), std::invalid_argument);
  w.blob = Bytes(80);
  w.nonce_offset = 0;
  EXPECT_THROW(algo->hash(w, 0), std::invalid_argument);
  w.nonce_offset = 76;
  EXPECT_THROW(algo->hash(w, 1ull << 32), std::invalid_argument);
  std::vector<Found> found;
  EXPECT_THROW(algo->search(w, 0, 1ull << 32, found), std::invalid_argument);
  EXPECT_THROW(algo->search(w, 10, 9, found), std::invalid_argument);
  for (ShaImpl i : {ShaImpl::shani, ShaImpl::avx2, ShaImpl::avx512, ShaImpl::shani_avx512}) {
    if (sha_impl_supported(i)) continue;
    o.variant = to_string(i);
    EXPECT_THROW(make_sha256d_algorithm(o), std::invalid_argument);
    EXPECT_THROW(sha256(i, ByteSpan()), std::invalid_argument);
  }
}
