// Ethash epoch parameters, light cache, DAG nodes, the context LRU, and hashimoto.
#include "crypto/ethash.h"

#include <bit>
#include <cstring>
#include <future>
#include <list>
#include <stdexcept>
#include <string>

#include "crypto/keccak.h"

namespace otedama::crypto {

static_assert(std::endian::native == std::endian::little,
              "Ethash nodes are handled as little-endian words in place");

namespace {

constexpr uint64_t kDatasetBytesInit = 1ull << 30;
constexpr uint64_t kDatasetBytesGrowth = 1ull << 23;
constexpr uint64_t kCacheBytesInit = 1ull << 24;
constexpr uint64_t kCacheBytesGrowth = 1ull << 17;
constexpr uint64_t kHashBytes = 64;
constexpr uint64_t kMixBytes = 128;
constexpr int kCacheRounds = 3;
constexpr int kAccesses = 64;

inline uint32_t fnv(uint32_t a, uint32_t b) { return (a * 0x01000193u) ^ b; }

// a % d without a division (Lemire, "Faster remainder by direct computation", 2019); the
// parent index is on the node's dependent chain, where a 32-bit div costs 10-30 cycles.
struct FastMod {
  explicit FastMod(uint32_t d) : d(d), m(~uint64_t{0} / d + 1) {}
  uint32_t operator()(uint32_t a) const {
    return static_cast<uint32_t>((static_cast<unsigned __int128>(m * a) * d) >> 64);
  }
  uint32_t d;
  uint64_t m;
};

bool is_prime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return false;
  return true;
}

// Largest size <= init + growth * epoch - unit whose unit count is prime.
uint64_t prime_size(uint64_t init, uint64_t growth, uint64_t unit, uint64_t epoch) {
  uint64_t size = init + growth * epoch - unit;
  while (!is_prime(size / unit)) size -= 2 * unit;
  return size;
}

uint8_t* bytes_of(EthashNode& n) { return reinterpret_cast<uint8_t*>(n.words); }

void check_spec(const EthashEpochSpec& spec) {
  if (spec.size_epoch > kEthashMaxEpoch)
    throw std::invalid_argument("ethash: epoch " + std::to_string(spec.size_epoch) + " is beyond the supported " +
                                std::to_string(kEthashMaxEpoch));
  if (spec.parents == 0) throw std::invalid_argument("ethash: dataset parents must be positive");
}

}  // namespace

// ---- epoch parameters ------------------------------------------------------------------

uint64_t ethash_light_cache_size(uint64_t epoch) {
  return prime_size(kCacheBytesInit, kCacheBytesGrowth, kHashBytes, epoch);
}

uint64_t ethash_full_dataset_size(uint64_t epoch) {
  return prime_size(kDatasetBytesInit, kDatasetBytesGrowth, kMixBytes, epoch);
}

Hash256 ethash_seed(uint64_t epoch) {
  Hash256 seed{};
  for (uint64_t i = 0; i < epoch; ++i) seed = keccak256(seed);
  return seed;
}

EthashEpochSpec ethash_epoch_spec(EthashVariant v, uint64_t epoch) {
  if (v == EthashVariant::etchash) return {epoch, 2 * epoch, kEthashDatasetParents};
  return {epoch, epoch, kEthashDatasetParents};
}

EthashEpochSpec kawpow_epoch_spec(uint64_t epoch) { return {epoch, epoch, kKawpowDatasetParents}; }

uint64_t ethash_epoch_of_block(EthashVariant v, uint64_t block_number) {
  if (v == EthashVariant::etchash && block_number >= kEtchashActivationBlock)
    return block_number / kEtchashEpochLength;
  return block_number / kEthashEpochLength;
}

EthashEpochSpec ethash_spec_for_block(EthashVariant v, uint64_t block_number) {
  const uint64_t epoch = ethash_epoch_of_block(v, block_number);
  if (v == EthashVariant::etchash && block_number >= kEtchashActivationBlock)
    return ethash_epoch_spec(EthashVariant::etchash, epoch);
  return ethash_epoch_spec(EthashVariant::ethash, epoch);
}

// ---- light cache and DAG nodes -----------------------------------------------------------

EthashNodes ethash_build_light_cache(const Hash256& seed, uint64_t size_bytes) {
  if (size_bytes < kHashBytes || size_bytes % kHashBytes != 0 || size_bytes / kHashBytes > UINT32_MAX)
    throw std::invalid_argument("ethash: light cache size must be a positive multiple of 64 bytes");
  const uint32_t n = static_cast<uint32_t>(size_bytes / kHashBytes);
  EthashNodes cache(n);
  const auto first = keccak512(seed);
  std::memcpy(cache[0].words, first.data(), 64);
  for (uint32_t i = 1; i < n; ++i) {
    cache[i] = cache[i - 1];
    keccak512_64(bytes_of(cache[i]));
  }
  // RandMemoHash (Lerner 2014), kCacheRounds passes.
  for (int round = 0; round < kCacheRounds; ++round) {
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t v = cache[i].words[0] % n;
      const uint32_t u = (i + n - 1) % n;
      EthashNode t;
      for (int w = 0; w < 16; ++w) t.words[w] = cache[u].words[w] ^ cache[v].words[w];
      keccak512_64(bytes_of(t));
      cache[i] = t;
    }
  }
  return cache;
}

namespace {

// N nodes side by side: their parent chains are independent, so the CPU overlaps the
// cache misses of one with the arithmetic of the others.
template <unsigned N>
void calc_nodes(const EthashContext& ctx, uint32_t first, EthashNode* out) {
  const EthashNode* cache = ctx.light_cache.data();
  const uint32_t n = ctx.light_cache_nodes();
  const FastMod mod_n(n);
  const uint32_t parents = ctx.spec.parents;
  EthashNode mix[N];
  for (unsigned k = 0; k < N; ++k) {
    const uint32_t index = first + k;
    mix[k] = cache[index % n];
    mix[k].words[0] ^= index;
    keccak512_64(bytes_of(mix[k]));
  }
  for (uint32_t j = 0; j < parents; ++j) {
#pragma GCC unroll 8
    for (unsigned k = 0; k < N; ++k) {
      const uint32_t parent = mod_n(fnv((first + k) ^ j, mix[k].words[j % 16]));
      const EthashNode& p = cache[parent];
#pragma GCC unroll 16
      for (int w = 0; w < 16; ++w) mix[k].words[w] = fnv(mix[k].words[w], p.words[w]);
    }
  }
  for (unsigned k = 0; k < N; ++k) {
    keccak512_64(bytes_of(mix[k]));
    out[k] = mix[k];
  }
}

}  // namespace

void ethash_dag_nodes(const EthashContext& ctx, uint32_t first, unsigned count, EthashNode* out) {
  if (ctx.light_cache.empty()) throw std::invalid_argument("ethash: context has no light cache");
  switch (count) {
    case 0: return;
    case 1: return calc_nodes<1>(ctx, first, out);
    case 2: return calc_nodes<2>(ctx, first, out);
    case 3: return calc_nodes<3>(ctx, first, out);
    case 4: return calc_nodes<4>(ctx, first, out);
    case 8: return calc_nodes<8>(ctx, first, out);
    default:
      if (count > 8) throw std::invalid_argument("ethash: at most 8 DAG nodes at a time");
      calc_nodes<4>(ctx, first, out);
      return ethash_dag_nodes(ctx, first + 4, count - 4, out + 4);
  }
}

EthashNode ethash_dag_node(const EthashContext& ctx, uint32_t index) {
  EthashNode node;
  ethash_dag_nodes(ctx, index, 1, &node);
  return node;
}

// ---- contexts ------------------------------------------------------------------------------

std::shared_ptr<EthashContext> ethash_make_context(const EthashEpochSpec& spec) {
  check_spec(spec);
  auto ctx = std::make_shared<EthashContext>();
  ctx->spec = spec;
  ctx->light_cache_size = ethash_light_cache_size(spec.size_epoch);
  ctx->full_dataset_size = ethash_full_dataset_size(spec.size_epoch);
  ctx->seed = ethash_seed(spec.seed_epoch);
  ctx->light_cache = ethash_build_light_cache(ctx->seed, ctx->light_cache_size);
  // The first 16 KiB of the DAG: ProgPoW's L1 cache. Cheap (256 nodes), so every context has it.
  constexpr uint32_t l1_nodes = progpow::kL1CacheWords / 16;
  ctx->l1_cache.resize(progpow::kL1CacheWords);
  for (uint32_t i = 0; i < l1_nodes; i += 4) {
    EthashNode nodes[4];
    ethash_dag_nodes(*ctx, i, 4, nodes);
    std::memcpy(&ctx->l1_cache[i * 16], nodes, sizeof nodes);
  }
  return ctx;
}

namespace {

struct ContextSlot {
  EthashEpochSpec spec;
  uint64_t id;
  std::shared_future<std::shared_ptr<const EthashContext>> context;
};

// Ethash, etchash and KawPow, each at the current and the next epoch, fit in a few slots;
// a context is 16-100 MiB.
constexpr size_t kContextCacheSlots = 4;

std::mutex g_contexts_mutex;
std::list<ContextSlot> g_contexts;  // most recently used first
uint64_t g_next_slot_id = 0;

}  // namespace

std::shared_ptr<const EthashContext> ethash_context(const EthashEpochSpec& spec) {
  check_spec(spec);
  std::promise<std::shared_ptr<const EthashContext>> promise;
  std::shared_future<std::shared_ptr<const EthashContext>> future;
  uint64_t id = 0;
  {
    std::lock_guard lock(g_contexts_mutex);
    for (auto it = g_contexts.begin(); it != g_contexts.end(); ++it) {
      if (it->spec == spec) {
        g_contexts.splice(g_contexts.begin(), g_contexts, it);
        future = it->context;
        break;
      }
    }
    if (!future.valid()) {
      future = promise.get_future().share();
      id = ++g_next_slot_id;
      g_contexts.push_front({spec, id, future});
      if (g_contexts.size() > kContextCacheSlots) g_contexts.pop_back();
    }
  }
  if (id == 0) return future.get();  // built (or being built) by someone else
  try {
    std::shared_ptr<const EthashContext> ctx = ethash_make_context(spec);
    promise.set_value(ctx);
    return ctx;
  } catch (...) {
    promise.set_exception(std::current_exception());
    std::lock_guard lock(g_contexts_mutex);
    g_contexts.remove_if([id](const ContextSlot& s) { return s.id == id; });
    throw;
  }
}

std::shared_ptr<const EthashContext> ethash_context(EthashVariant v, uint64_t epoch) {
  return ethash_context(ethash_epoch_spec(v, epoch));
}

std::shared_ptr<const EthashContext> ethash_context_for_block(EthashVariant v, uint64_t block_number) {
  return ethash_context(ethash_spec_for_block(v, block_number));
}

std::shared_ptr<const EthashContext> kawpow_context(uint64_t epoch) {
  return ethash_context(kawpow_epoch_spec(epoch));
}

// ---- hashimoto -----------------------------------------------------------------------------

namespace {

// lookup(item, words): the 1024-bit dataset item `item` (nodes 2*item, 2*item+1) as 32 words.
template <typename Lookup>
EthashResult hashimoto(const EthashContext& ctx, const Hash256& header_hash, uint64_t nonce, Lookup&& lookup) {
  uint8_t seed_input[40];
  std::memcpy(seed_input, header_hash.data(), 32);
  for (int i = 0; i < 8; ++i) seed_input[32 + i] = static_cast<uint8_t>(nonce >> (8 * i));
  const auto seed = keccak512(seed_input);
  uint32_t s[16];
  std::memcpy(s, seed.data(), 64);

  uint32_t mix[32];
  for (int i = 0; i < 32; ++i) mix[i] = s[i % 16];
  const uint32_t num_items = ctx.full_dataset_items();
  for (uint32_t i = 0; i < kAccesses; ++i) {
    const uint32_t item = fnv(i ^ s[0], mix[i % 32]) % num_items;
    uint32_t words[32];
    lookup(item, words);
    for (int w = 0; w < 32; ++w) mix[w] = fnv(mix[w], words[w]);
  }
  uint32_t cmix[8];
  for (int i = 0; i < 8; ++i) cmix[i] = fnv(fnv(fnv(mix[4 * i], mix[4 * i + 1]), mix[4 * i + 2]), mix[4 * i + 3]);

  EthashResult r;
  std::memcpy(r.mix.data(), cmix, 32);
  uint8_t final_input[96];
  std::memcpy(final_input, seed.data(), 64);
  std::memcpy(final_input + 64, cmix, 32);
  r.final_hash = keccak256(final_input);
  return r;
}

void check_dataset(const EthashContext& ctx, const EthashDataset& dataset) {
  if (dataset.nodes.size() != dataset.num_nodes || dataset.num_nodes != ctx.full_dataset_size / kHashBytes)
    throw std::invalid_argument("ethash: dataset does not belong to this context");
}

}  // namespace

EthashResult ethash_hash_light(const EthashContext& ctx, const Hash256& header_hash, uint64_t nonce) {
  if (ctx.light_cache.empty()) throw std::invalid_argument("ethash: context has no light cache");
  return hashimoto(ctx, header_hash, nonce, [&](uint32_t item, uint32_t* words) {
    EthashNode nodes[2];
    calc_nodes<2>(ctx, item * 2, nodes);
    std::memcpy(words, nodes, 128);
  });
}

EthashResult ethash_hash_full(const EthashContext& ctx, const EthashDataset& dataset, const Hash256& header_hash,
                              uint64_t nonce) {
  check_dataset(ctx, dataset);
  const EthashNode* nodes = dataset.nodes.data();
  return hashimoto(ctx, header_hash, nonce, [nodes](uint32_t item, uint32_t* words) {
    std::memcpy(words, &nodes[uint64_t{item} * 2], 128);
  });
}

EthashResult ethash_hash_light(EthashVariant v, uint64_t block_number, const Hash256& header_hash, uint64_t nonce) {
  return ethash_hash_light(*ethash_context_for_block(v, block_number), header_hash, nonce);
}

EthashResult ethash_hash_full(EthashVariant v, uint64_t block_number, const Hash256& header_hash, uint64_t nonce) {
  const auto ctx = ethash_context_for_block(v, block_number);
  auto dataset = ctx->full_dataset();
  if (!dataset) dataset = ctx->build_full_dataset();
  return ethash_hash_full(*ctx, *dataset, header_hash, nonce);
}

}  // namespace otedama::crypto
