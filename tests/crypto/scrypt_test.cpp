// scrypt: RFC 7914 vectors and intermediates, Litecoin headers, every kernel against the
// portable one, and OpenSSL (and libscrypt where linked) on random inputs.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "crypto/crypto.h"

#if defined(OTEDAMA_HAVE_LIBSCRYPT)
extern "C" int libscrypt_scrypt(const uint8_t*, size_t, const uint8_t*, size_t, uint64_t, uint32_t, uint32_t,
                                uint8_t*, size_t);
#endif

using namespace otedama;
using namespace otedama::crypto;

namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(OTEDAMA_VECTORS_DIR) + "/scrypt.json");
  if (!f) throw std::runtime_error("cannot open scrypt.json");
  return nlohmann::json::parse(f);
}

Bytes ascii(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::vector<ScryptImpl> supported_impls() {
  std::vector<ScryptImpl> out;
  for (ScryptImpl i : {ScryptImpl::portable, ScryptImpl::sse2, ScryptImpl::avx2, ScryptImpl::avx512})
    if (scrypt_impl_supported(i)) out.push_back(i);
  return out;
}

Bytes openssl_scrypt(ByteSpan pass, ByteSpan salt, uint64_t N, uint64_t r, uint64_t p, size_t dk_len) {
  Bytes out(dk_len);
  static const uint8_t empty = 0;
  int ok = EVP_PBE_scrypt(reinterpret_cast<const char*>(pass.empty() ? &empty : pass.data()), pass.size(),
                          salt.empty() ? &empty : salt.data(), salt.size(), N, r, p, 64ull << 20, out.data(),
                          out.size());
  if (ok != 1) throw std::runtime_error("EVP_PBE_scrypt failed");
  return out;
}

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

Bytes with_nonce(const Bytes& header, uint32_t nonce) {
  Bytes h = header;
  for (int i = 0; i < 4; ++i) h[76 + i] = uint8_t(nonce >> (8 * i));
  return h;
}

}  // namespace

// ---- vectors -------------------------------------------------------------------------------

TEST(Scrypt, MiningHeaderVectors) {
  auto v = vectors();
  ASSERT_EQ(v["mining_headers_N1024_r1_p1"].size(), 4u);
  for (const auto& t : v["mining_headers_N1024_r1_p1"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    Bytes header = from_hex(t["header_hex"].get<std::string>());
    ASSERT_EQ(header.size(), 80u);
    Hash256 h = scrypt_1024_1_1(header);
    EXPECT_EQ(to_hex(h), t["pow_hash_raw_hex"].get<std::string>());
    EXPECT_EQ(to_hex(reversed(h)), t["pow_hash_display_hex"].get<std::string>());
    // The general path (PBKDF2 + ROMix, no header specialisation) agrees.
    EXPECT_EQ(to_hex(scrypt(header, header, 1024, 1, 1, 32)), t["pow_hash_raw_hex"].get<std::string>());
    U256 target = U256::from_hex(t["target_from_bits_display_hex"].get<std::string>());
    EXPECT_EQ(U256::from_le_bytes(h.data()) <= target, t["pow_meets_target"].get<bool>());
  }
}

TEST(Scrypt, MiningHeaderVectorsEveryVariantAndAlgorithm) {
  auto v = vectors();
  for (const auto& t : v["mining_headers_N1024_r1_p1"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    Bytes header = from_hex(t["header_hex"].get<std::string>());
    uint32_t nonce = uint32_t(header[76]) | uint32_t(header[77]) << 8 | uint32_t(header[78]) << 16 |
                     uint32_t(header[79]) << 24;
    U256 target = U256::from_hex(t["target_from_bits_display_hex"].get<std::string>());
    for (ScryptImpl impl : supported_impls()) {
      SCOPED_TRACE(to_string(impl));
      std::vector<ScryptHit> hits;
      EXPECT_EQ(scrypt_scan(impl, header.data(), target, nonce, nonce, hits), 1u);
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].nonce, nonce);
      EXPECT_EQ(to_hex(hits[0].hash), t["pow_hash_raw_hex"].get<std::string>());

      AlgorithmOptions o;
      o.variant = to_string(impl);
      auto alg = make_scrypt_algorithm(o);
      Work w;
      w.blob = with_nonce(header, 0);  // the algorithm writes the nonce itself
      w.target = target;
      EXPECT_EQ(to_hex(alg->hash(w, nonce).hash), t["pow_hash_raw_hex"].get<std::string>());
      std::vector<Found> found;
      uint64_t lo = nonce >= 2 ? nonce - 2 : 0, hi = std::min<uint64_t>(nonce + 2, 0xffffffffu);
      EXPECT_EQ(alg->search(w, lo, hi, found), hi - lo + 1);
      bool has = std::any_of(found.begin(), found.end(), [&](const Found& f) { return f.nonce == nonce; });
      EXPECT_TRUE(has);
      for (const Found& f : found) {
        EXPECT_EQ(f.result.hash, alg->hash(w, f.nonce).hash);
        EXPECT_TRUE(alg->meets(w, f.result));
      }
    }
  }
}

TEST(Scrypt, Rfc7914Vectors) {
  auto v = vectors();
  ASSERT_EQ(v["rfc7914_scrypt"].size(), 3u);
  for (const auto& t : v["rfc7914_scrypt"]) {
    Bytes p = from_hex(t["P_hex"].get<std::string>()), s = from_hex(t["S_hex"].get<std::string>());
    EXPECT_EQ(p, ascii(t["P_ascii"].get<std::string>()));
    Bytes dk = scrypt(p, s, t["N"].get<uint64_t>(), t["r"].get<uint32_t>(), t["p"].get<uint32_t>(),
                      t["dkLen"].get<size_t>());
    EXPECT_EQ(to_hex(dk), t["dk_hex"].get<std::string>()) << t["P_ascii"];
  }
}

TEST(Scrypt, Rfc7914Intermediates) {
  auto v = vectors()["rfc7914_intermediates"];
  for (const auto& t : v["salsa20_8_core"])
    EXPECT_EQ(to_hex(scrypt_detail::salsa20_8(from_hex(t["input_hex"].get<std::string>()))),
              t["output_hex"].get<std::string>());
  for (const auto& t : v["blockmix_salsa8"])
    EXPECT_EQ(to_hex(scrypt_detail::blockmix_salsa8(from_hex(t["input_hex"].get<std::string>()), t["r"])),
              t["output_hex"].get<std::string>());
  for (const auto& t : v["romix"])
    EXPECT_EQ(to_hex(scrypt_detail::romix(from_hex(t["input_hex"].get<std::string>()), t["N"], t["r"])),
              t["output_hex"].get<std::string>());
  ASSERT_EQ(v["pbkdf2_hmac_sha256"].size(), 2u);
  for (const auto& t : v["pbkdf2_hmac_sha256"])
    EXPECT_EQ(to_hex(scrypt_detail::pbkdf2_hmac_sha256(ascii(t["P_ascii"]), ascii(t["S_ascii"]), t["c"],
                                                       t["dkLen"])),
              t["dk_hex"].get<std::string>());
}

// ---- reference libraries ---------------------------------------------------------------------

TEST(Scrypt, MatchesOpenSslOnRandomInputs) {
  std::mt19937_64 rng(7914);
  for (size_t len : {0, 1, 31, 32, 55, 56, 63, 64, 65, 79, 80, 81, 119, 120, 128, 200}) {
    Bytes in = random_bytes(rng, len);
    Bytes want = openssl_scrypt(in, in, 1024, 1, 1, 32);
    EXPECT_EQ(to_hex(scrypt_1024_1_1(in)), to_hex(want)) << "length " << len;
  }
  // General parameters, password != salt, odd output lengths.
  for (int i = 0; i < 6; ++i) {
    Bytes pass = random_bytes(rng, rng() % 100), salt = random_bytes(rng, rng() % 100);
    uint64_t N = uint64_t(2) << (rng() % 6);
    uint32_t r = 1 + rng() % 4, p = 1 + rng() % 3;
    size_t dk = 1 + rng() % 100;
    EXPECT_EQ(to_hex(scrypt(pass, salt, N, r, p, dk)), to_hex(openssl_scrypt(pass, salt, N, r, p, dk)))
        << "N=" << N << " r=" << r << " p=" << p << " dk=" << dk;
  }
}

TEST(Scrypt, Pbkdf2MatchesOpenSsl) {
  std::mt19937_64 rng(2898);
  for (size_t plen : {0, 1, 32, 63, 64, 65, 80, 150}) {
    Bytes pass = random_bytes(rng, plen), salt = random_bytes(rng, rng() % 130);
    uint64_t c = 1 + rng() % 5;
    size_t dk = 1 + rng() % 150;
    Bytes want(dk);
    ASSERT_EQ(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(pass.data()), int(pass.size()), salt.data(),
                                int(salt.size()), int(c), EVP_sha256(), int(dk), want.data()),
              1);
    EXPECT_EQ(to_hex(scrypt_detail::pbkdf2_hmac_sha256(pass, salt, c, dk)), to_hex(want)) << plen;
  }
}

#if defined(OTEDAMA_HAVE_LIBSCRYPT)
TEST(Scrypt, MatchesLibscryptOnRandomInputs) {
  std::mt19937_64 rng(1024);
  for (size_t len : {0, 1, 64, 79, 80, 81, 150}) {
    Bytes in = random_bytes(rng, len);
    uint8_t want[32];
    ASSERT_EQ(libscrypt_scrypt(in.data(), in.size(), in.data(), in.size(), 1024, 1, 1, want, 32), 0);
    EXPECT_EQ(to_hex(scrypt_1024_1_1(in)), to_hex(ByteSpan(want, 32))) << "length " << len;
  }
  Bytes header = random_bytes(rng, 80);
  std::vector<ScryptHit> hits;
  for (ScryptImpl impl : supported_impls()) {
    hits.clear();
    scrypt_scan(impl, header.data(), U256::max(), 100, 108, hits);
    ASSERT_EQ(hits.size(), 9u);
    for (const ScryptHit& h : hits) {
      Bytes in = with_nonce(header, h.nonce);
      uint8_t want[32];
      ASSERT_EQ(libscrypt_scrypt(in.data(), 80, in.data(), 80, 1024, 1, 1, want, 32), 0);
      EXPECT_EQ(to_hex(h.hash), to_hex(ByteSpan(want, 32))) << to_string(impl) << " nonce " << h.nonce;
    }
  }
}
#endif

// ---- the mining scan -------------------------------------------------------------------------

// Every variant finds exactly the nonces a one-at-a-time loop finds, for targets of every
// magnitude, ranges of odd lengths, length 1, and the top of the nonce space.
TEST(Scrypt, ScanMatchesOneAtATime) {
  std::mt19937_64 rng(80);
  Bytes header = random_bytes(rng, 80);
  struct Range {
    uint32_t first, last;
  };
  const std::vector<Range> ranges = {
      {0xffffffffu - 10, 0xffffffffu},  // 11 nonces ending at the last one
      {0xffffffffu, 0xffffffffu},
      {0, 0},
      {12345, 12345 + 6},  // 7
      {500, 500 + 20},     // 21: a full batch plus a partial one for 8 and 16 lanes
  };
  // Reference digests, one nonce at a time through the byte-oriented API.
  std::vector<std::vector<Hash256>> ref;
  for (const Range& r : ranges) {
    ref.emplace_back();
    for (uint64_t n = r.first; n <= r.last; ++n) ref.back().push_back(scrypt_1024_1_1(with_nonce(header, uint32_t(n))));
  }
  // Targets: nothing, ~1/16, ~1/2, ~15/16, everything; and exact digests (inclusive bound).
  std::vector<U256> targets = {U256{}, U256::max() >> 4, U256::max() >> 1, U256::from_hex("ef" + std::string(62, 'f')),
                               U256::max(), U256::from_le_bytes(ref[3][3].data()),
                               U256::from_le_bytes(ref[0][10].data())};
  for (ScryptImpl impl : supported_impls()) {
    SCOPED_TRACE(to_string(impl));
    for (size_t ri = 0; ri < ranges.size(); ++ri) {
      const Range& r = ranges[ri];
      // One scan with the widest target gives every digest; others are derived checks.
      std::vector<ScryptHit> all;
      ASSERT_EQ(scrypt_scan(impl, header.data(), U256::max(), r.first, r.last, all), uint64_t(r.last) - r.first + 1);
      ASSERT_EQ(all.size(), ref[ri].size());
      for (size_t k = 0; k < all.size(); ++k) {
        EXPECT_EQ(all[k].nonce, uint32_t(r.first + k));
        EXPECT_EQ(all[k].hash, ref[ri][k]) << "nonce " << all[k].nonce;
      }
      if (ri == 3 || ri == 0) {  // every target on two ranges (scrypt is slow: keep it small)
        for (const U256& t : targets) {
          std::vector<uint32_t> want, got;
          for (size_t k = 0; k < ref[ri].size(); ++k)
            if (U256::from_le_bytes(ref[ri][k].data()) <= t) want.push_back(uint32_t(r.first + k));
          EXPECT_EQ(scrypt_scan(impl, header.data(), t, r.first, r.last, got), uint64_t(r.last) - r.first + 1);
          EXPECT_EQ(got, want) << "target " << t.to_hex();
        }
      }
    }
  }
}

TEST(Scrypt, ScanAppendsAndStops) {
  Bytes header(80, 0x5a);
  for (ScryptImpl impl : supported_impls()) {
    std::vector<uint32_t> hits = {42};
    EXPECT_EQ(scrypt_scan(impl, header.data(), U256::max(), 7, 8, hits), 2u);
    EXPECT_EQ(hits, (std::vector<uint32_t>{42, 7, 8}));
    std::atomic<bool> stop{true};
    hits.clear();
    EXPECT_EQ(scrypt_scan(impl, header.data(), U256::max(), 0, 1000, hits, &stop), 0u);
    EXPECT_TRUE(hits.empty());
  }
}

TEST(Scrypt, BadArguments) {
  Bytes header(80, 1);
  std::vector<uint32_t> hits;
  EXPECT_THROW(scrypt_scan(ScryptImpl::portable, header.data(), U256::max(), 5, 4, hits), std::invalid_argument);
  for (ScryptImpl impl : {ScryptImpl::sse2, ScryptImpl::avx2, ScryptImpl::avx512}) {
    if (!scrypt_impl_supported(impl)) {
      EXPECT_THROW(scrypt_scan(impl, header.data(), U256::max(), 0, 0, hits), std::invalid_argument);
    }
  }
  EXPECT_THROW(scrypt(header, header, 1000, 1, 1, 32), std::invalid_argument);  // not a power of two
  EXPECT_THROW(scrypt(header, header, 1, 1, 1, 32), std::invalid_argument);
  EXPECT_THROW(scrypt(header, header, 1024, 0, 1, 32), std::invalid_argument);
  EXPECT_THROW(scrypt(header, header, 1024, 1, 0, 32), std::invalid_argument);
  EXPECT_THROW(scrypt(header, header, 1 << 16, 1, 1, 32), std::invalid_argument);  // N >= 2^(16 r)
  EXPECT_THROW(scrypt(header, header, 16, 1 << 15, 1 << 15, 32), std::invalid_argument);  // r p >= 2^30
  EXPECT_THROW(scrypt_detail::salsa20_8(Bytes(63)), std::invalid_argument);
  EXPECT_THROW(scrypt_detail::blockmix_salsa8(Bytes(127), 1), std::invalid_argument);
  EXPECT_THROW(scrypt_detail::pbkdf2_hmac_sha256(header, header, 0, 32), std::invalid_argument);

  AlgorithmOptions o;
  o.variant = "sse4";
  EXPECT_THROW(make_scrypt_algorithm(o), std::invalid_argument);
  o.variant = "auto";
  auto alg = make_scrypt_algorithm(o);
  Work w;
  w.blob = Bytes(79);
  EXPECT_THROW(alg->hash(w, 0), std::invalid_argument);
  w.blob = Bytes(80);
  w.nonce_offset = 39;
  EXPECT_THROW(alg->hash(w, 0), std::invalid_argument);
  w.nonce_offset = 76;
  EXPECT_THROW(alg->hash(w, 1ull << 32), std::invalid_argument);
}

TEST(Scrypt, AlgorithmNamesAndVariants) {
  EXPECT_STREQ(to_string(ScryptImpl::portable), "portable");
  EXPECT_STREQ(to_string(ScryptImpl::sse2), "sse2");
  EXPECT_STREQ(to_string(ScryptImpl::avx2), "avx2");
  EXPECT_STREQ(to_string(ScryptImpl::avx512), "avx512");
  EXPECT_TRUE(scrypt_impl_supported(best_scrypt_impl()));
  AlgorithmOptions o;
  auto best = make_scrypt_algorithm(o);
  EXPECT_EQ(best->name(), "scrypt");
  EXPECT_EQ(best->variant().rfind(to_string(best_scrypt_impl()), 0), 0u);
  for (ScryptImpl impl : supported_impls()) {
    o.variant = to_string(impl);
    auto alg = make_scrypt_algorithm(o);
    std::string want = impl == ScryptImpl::portable ? "portable" : std::string(to_string(impl)) + " x" +
                                                                       std::to_string(scrypt_lanes(impl));
    EXPECT_EQ(alg->variant(), want);
    // A 64-bit range past the 32-bit nonce space stops at 0xffffffff.
    Work w;
    w.blob = Bytes(80, 3);
    std::vector<Found> found;
    EXPECT_EQ(alg->search(w, 0xfffffffeull, 0x100000005ull, found), 2u);
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[1].nonce, 0xffffffffull);
  }
}
