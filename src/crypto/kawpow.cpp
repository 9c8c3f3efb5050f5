// KawPow: Ravencoin's ProgPoW 0.9.4 (period 3, 7500-block epochs, 512-parent DAG) with
// Keccak-f[800] framed by the 'RAVENCOINKAWPOW' padding words.
#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

#include "crypto/ethash.h"
#include "crypto/keccak.h"

namespace otedama::crypto {

// ---- ProgPoW primitives ----------------------------------------------------------------

namespace progpow {

uint32_t fnv1a(uint32_t h, uint32_t d) { return (h ^ d) * 0x01000193u; }

uint32_t Kiss99::next() {
  z = 36969 * (z & 65535) + (z >> 16);
  w = 18000 * (w & 65535) + (w >> 16);
  const uint32_t mwc = (z << 16) + w;
  jsr ^= jsr << 17;
  jsr ^= jsr >> 13;
  jsr ^= jsr << 5;
  jcong = 69069 * jcong + 1234567;
  return (mwc ^ jcong) + jsr;
}

Mix init_mix(uint32_t seed_lo, uint32_t seed_hi) {
  const uint32_t z = fnv1a(kFnvOffsetBasis, seed_lo);
  const uint32_t w = fnv1a(z, seed_hi);
  Mix mix;
  for (uint32_t lane = 0; lane < kNumLanes; ++lane) {
    const uint32_t jsr = fnv1a(w, lane);
    const uint32_t jcong = fnv1a(jsr, lane);
    Kiss99 rng{z, w, jsr, jcong};
    for (auto& reg : mix[lane]) reg = rng.next();
  }
  return mix;
}

ProgramState program_state(uint64_t prog_seed) {
  const auto lo = static_cast<uint32_t>(prog_seed);
  const auto hi = static_cast<uint32_t>(prog_seed >> 32);
  ProgramState s;
  s.rng.z = fnv1a(kFnvOffsetBasis, lo);
  s.rng.w = fnv1a(s.rng.z, hi);
  s.rng.jsr = fnv1a(s.rng.w, lo);
  s.rng.jcong = fnv1a(s.rng.jsr, hi);
  for (uint32_t i = 0; i < kNumRegs; ++i) s.dst_seq[i] = s.src_seq[i] = i;
  // Fisher-Yates shuffles of the destination and source register orders, interleaved.
  for (uint32_t i = kNumRegs; i > 1; --i) {
    std::swap(s.dst_seq[i - 1], s.dst_seq[s.rng.next() % i]);
    std::swap(s.src_seq[i - 1], s.src_seq[s.rng.next() % i]);
  }
  return s;
}

uint32_t random_merge(uint32_t a, uint32_t b, uint32_t selector) {
  const int x = static_cast<int>((selector >> 16) % 31 + 1);  // non-zero rotation
  switch (selector % 4) {
    case 0: return a * 33 + b;
    case 1: return (a ^ b) * 33;
    case 2: return std::rotl(a, x) ^ b;
    default: return std::rotr(a, x) ^ b;
  }
}

uint32_t random_math(uint32_t a, uint32_t b, uint32_t selector) {
  switch (selector % 11) {
    case 0: return a + b;
    case 1: return a * b;
    case 2: return static_cast<uint32_t>((uint64_t{a} * b) >> 32);
    case 3: return std::min(a, b);
    case 4: return std::rotl(a, static_cast<int>(b & 31));
    case 5: return std::rotr(a, static_cast<int>(b & 31));
    case 6: return a & b;
    case 7: return a | b;
    case 8: return a ^ b;
    case 9: return static_cast<uint32_t>(std::countl_zero(a) + std::countl_zero(b));
    default: return static_cast<uint32_t>(std::popcount(a) + std::popcount(b));
  }
}

}  // namespace progpow

// ---- KawPow ----------------------------------------------------------------------------

namespace {

using namespace progpow;

// "RAVENCOINKAWPOW", one character per word, except that Ravencoin's reference writes the
// first one as 0x72 (a lowercase 'r'); consensus follows the code, so do we.
constexpr uint32_t kRavencoinKawpow[15] = {0x72, 'A', 'V', 'E', 'N', 'C', 'O', 'I',
                                           'N',  'K', 'A', 'W', 'P', 'O', 'W'};
constexpr int kWordsPerLane = 64 / kNumLanes;  // a 2048-bit DAG item spread over the lanes

// One of the 64 loops: cache and math operations, then one 2048-bit DAG item merged in.
// `program` is passed by value: every loop replays the period's program from the start.
void progpow_loop(const EthashContext& ctx, uint32_t loop, Mix& mix, ProgramState program, const uint32_t* item) {
  const uint32_t* l1 = ctx.l1_cache.data();
  constexpr int max_ops = std::max(kNumCacheAccesses, kNumMathOperations);
  for (int i = 0; i < max_ops; ++i) {
    if (i < kNumCacheAccesses) {
      const uint32_t src = program.next_src();
      const uint32_t dst = program.next_dst();
      const uint32_t sel = program.rng.next();
      for (int l = 0; l < kNumLanes; ++l)
        mix[l][dst] = random_merge(mix[l][dst], l1[mix[l][src] % kL1CacheWords], sel);
    }
    if (i < kNumMathOperations) {
      // Two distinct source registers.
      const uint32_t src_rnd = program.rng.next() % (kNumRegs * (kNumRegs - 1));
      const uint32_t src1 = src_rnd % kNumRegs;
      uint32_t src2 = src_rnd / kNumRegs;
      if (src2 >= src1) ++src2;
      const uint32_t sel1 = program.rng.next();
      const uint32_t dst = program.next_dst();
      const uint32_t sel2 = program.rng.next();
      for (int l = 0; l < kNumLanes; ++l)
        mix[l][dst] = random_merge(mix[l][dst], random_math(mix[l][src1], mix[l][src2], sel1), sel2);
    }
  }
  uint32_t dsts[kWordsPerLane];
  uint32_t sels[kWordsPerLane];
  for (int i = 0; i < kWordsPerLane; ++i) {
    dsts[i] = i == 0 ? 0 : program.next_dst();
    sels[i] = program.rng.next();
  }
  for (uint32_t l = 0; l < kNumLanes; ++l) {
    const uint32_t offset = ((l ^ loop) % kNumLanes) * kWordsPerLane;
    for (int i = 0; i < kWordsPerLane; ++i) mix[l][dsts[i]] = random_merge(mix[l][dsts[i]], item[offset + i], sels[i]);
  }
}

void check_kawpow_context(const EthashContext& ctx, uint64_t block_height) {
  if (!(ctx.spec == kawpow_epoch_spec(block_height / kKawpowEpochLength)))
    throw std::invalid_argument("kawpow: context is not the KawPow epoch of block " + std::to_string(block_height));
  if (ctx.l1_cache.size() != kL1CacheWords) throw std::invalid_argument("kawpow: context has no L1 cache");
}

// lookup(item, words): the 2048-bit dataset item `item` (nodes 4*item .. 4*item+3), 64 words.
template <typename Lookup>
EthashResult kawpow(const EthashContext& ctx, uint64_t block_height, const Hash256& header_hash, uint64_t nonce,
                    Lookup&& lookup) {
  const std::array<uint32_t, 8> seed = kawpow_seed_words(header_hash, nonce);
  Mix mix = init_mix(seed[0], seed[1]);
  const ProgramState program = program_state(block_height / kKawpowPeriodLength);
  const uint32_t num_items = static_cast<uint32_t>(ctx.full_dataset_size / 256);
  for (uint32_t loop = 0; loop < kNumLoops; ++loop) {
    const uint32_t item_index = mix[loop % kNumLanes][0] % num_items;
    uint32_t item[64];
    lookup(item_index, item);
    progpow_loop(ctx, loop, mix, program, item);
  }

  // Reduce each lane, then the lanes, to 256 bits.
  uint32_t mix_words[8];
  std::fill(std::begin(mix_words), std::end(mix_words), kFnvOffsetBasis);
  for (int l = 0; l < kNumLanes; ++l) {
    uint32_t lane_hash = kFnvOffsetBasis;
    for (uint32_t reg : mix[l]) lane_hash = fnv1a(lane_hash, reg);
    mix_words[l % 8] = fnv1a(mix_words[l % 8], lane_hash);
  }

  uint32_t st[25];
  std::copy(seed.begin(), seed.end(), st);
  std::copy(std::begin(mix_words), std::end(mix_words), st + 8);
  std::copy(kRavencoinKawpow, kRavencoinKawpow + 9, st + 16);
  keccakf800(st);

  EthashResult r;
  for (int i = 0; i < 8; ++i)
    for (int b = 0; b < 4; ++b) {
      r.mix[4 * i + b] = static_cast<uint8_t>(mix_words[i] >> (8 * b));
      r.final_hash[4 * i + b] = static_cast<uint8_t>(st[i] >> (8 * b));
    }
  return r;
}

}  // namespace

std::array<uint32_t, 8> kawpow_seed_words(const Hash256& header_hash, uint64_t nonce) {
  uint32_t st[25];
  for (int i = 0; i < 8; ++i)
    st[i] = uint32_t{header_hash[4 * i]} | uint32_t{header_hash[4 * i + 1]} << 8 |
            uint32_t{header_hash[4 * i + 2]} << 16 | uint32_t{header_hash[4 * i + 3]} << 24;
  st[8] = static_cast<uint32_t>(nonce);
  st[9] = static_cast<uint32_t>(nonce >> 32);
  std::copy(kRavencoinKawpow, kRavencoinKawpow + 15, st + 10);
  keccakf800(st);
  std::array<uint32_t, 8> seed;
  std::copy(st, st + 8, seed.begin());
  return seed;
}

EthashResult kawpow_hash_light(const EthashContext& ctx, uint64_t block_height, const Hash256& header_hash,
                               uint64_t nonce) {
  check_kawpow_context(ctx, block_height);
  return kawpow(ctx, block_height, header_hash, nonce, [&](uint32_t item, uint32_t* words) {
    EthashNode nodes[4];
    ethash_dag_nodes(ctx, item * 4, 4, nodes);
    std::memcpy(words, nodes, 256);
  });
}

EthashResult kawpow_hash_full(const EthashContext& ctx, const EthashDataset& dataset, uint64_t block_height,
                              const Hash256& header_hash, uint64_t nonce) {
  check_kawpow_context(ctx, block_height);
  if (dataset.nodes.size() != dataset.num_nodes || dataset.num_nodes != ctx.full_dataset_size / 64)
    throw std::invalid_argument("kawpow: dataset does not belong to this context");
  const EthashNode* nodes = dataset.nodes.data();
  return kawpow(ctx, block_height, header_hash, nonce, [nodes](uint32_t item, uint32_t* words) {
    std::memcpy(words, &nodes[uint64_t{item} * 4], 256);
  });
}

EthashResult kawpow_hash_light(uint64_t block_height, const Hash256& header_hash, uint64_t nonce) {
  return kawpow_hash_light(*kawpow_context(block_height / kKawpowEpochLength), block_height, header_hash, nonce);
}

EthashResult kawpow_hash_full(uint64_t block_height, const Hash256& header_hash, uint64_t nonce) {
  const auto ctx = kawpow_context(block_height / kKawpowEpochLength);
  auto dataset = ctx->full_dataset();
  if (!dataset) dataset = ctx->build_full_dataset();
  return kawpow_hash_full(*ctx, *dataset, block_height, header_hash, nonce);
}

}  // namespace otedama::crypto
