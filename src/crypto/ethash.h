// Ethash (Ethereum), etchash (Ethereum Classic, ECIP-1099) and KawPow (Ravencoin's
// ProgPoW 0.9.4 variant): epoch parameters, light caches, the DAG, and the hash functions.
//
// Byte orders: header_hash is the 32-byte value fed to the algorithm, in that order. The
// nonce is a 64-bit value (Ethash feeds it little-endian after the header; KawPow splits it
// into lo/hi words). mix and final_hash are the bytes as produced; the final hash compares
// with the target as a BIG-endian number.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/core.h"

namespace otedama::crypto {

class Algorithm;
struct AlgorithmOptions;

enum class EthashVariant { ethash, etchash };

// ---- epoch parameters ------------------------------------------------------------------

inline constexpr uint64_t kEthashEpochLength = 30000;
inline constexpr uint64_t kEtchashEpochLength = 60000;        // ECIP-1099
inline constexpr uint64_t kEtchashActivationBlock = 11700000;  // ECIP-1099 on ETC mainnet
inline constexpr uint64_t kKawpowEpochLength = 7500;
inline constexpr uint64_t kKawpowPeriodLength = 3;
inline constexpr uint32_t kEthashDatasetParents = 256;
inline constexpr uint32_t kKawpowDatasetParents = 512;
// The largest epoch whose DAG node indexes fit in 32 bits (as in chfast/ethash).
inline constexpr uint64_t kEthashMaxEpoch = 32639;

// Sizes in bytes of an Ethash epoch's light cache and full dataset (prime-count rule).
uint64_t ethash_light_cache_size(uint64_t epoch);
uint64_t ethash_full_dataset_size(uint64_t epoch);
// keccak256 applied `epoch` times to 32 zero bytes.
Hash256 ethash_seed(uint64_t epoch);

// What identifies one DAG: whose sizes, whose seed, how many parents per item.
struct EthashEpochSpec {
  uint64_t size_epoch = 0;  // Ethash epoch whose cache/dataset sizes apply
  uint64_t seed_epoch = 0;  // Ethash epoch whose seed applies (etchash epoch E: 2E)
  uint32_t parents = kEthashDatasetParents;
  friend bool operator==(const EthashEpochSpec&, const EthashEpochSpec&) = default;
};

// `epoch` in the variant's own numbering (etchash: 60000-block epochs, ECIP-1099 rules).
EthashEpochSpec ethash_epoch_spec(EthashVariant v, uint64_t epoch);
EthashEpochSpec kawpow_epoch_spec(uint64_t epoch);  // Ethash sizes/seed, 512 parents

// The spec a block is mined under. Etchash blocks below the ECIP-1099 activation ran plain
// Ethash (30000-block epochs), so they get the Ethash spec.
EthashEpochSpec ethash_spec_for_block(EthashVariant v, uint64_t block_number);
// Epoch number of a block in the variant's numbering (see ethash_spec_for_block).
uint64_t ethash_epoch_of_block(EthashVariant v, uint64_t block_number);

// ---- light cache, DAG, context ---------------------------------------------------------

// One 512-bit cache/DAG node as 16 little-endian words.
struct alignas(64) EthashNode {
  uint32_t words[16];
};

// Large node arrays are read at random, one dependent access after another, so TLB misses
// cost as much as cache misses: blocks of 4 MiB and more are 2 MiB-aligned and advised
// for transparent huge pages (a hint; it does nothing where THP is off).
void* ethash_alloc_nodes(size_t bytes);
void ethash_free_nodes(void* p, size_t bytes) noexcept;

template <typename T>
struct EthashNodeAllocator {
  using value_type = T;
  EthashNodeAllocator() = default;
  template <typename U>
  EthashNodeAllocator(const EthashNodeAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(ethash_alloc_nodes(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { ethash_free_nodes(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const EthashNodeAllocator<U>&) const { return true; }
};

using EthashNodes = std::vector<EthashNode, EthashNodeAllocator<EthashNode>>;

// The full dataset of an epoch: full_dataset_size / 64 nodes (1 GiB and up).
struct EthashDataset {
  EthashNodes nodes;
  uint64_t num_nodes = 0;
};

using EthashProgress = std::function<void(double)>;  // fraction done, 0..1

// An epoch's verification state: the light cache (and, for KawPow, the 16 KiB L1 cache),
// plus an optional full dataset that is built on request and then used by full evaluation.
// Shared read-only between threads; only the dataset slot changes, under a mutex.
struct EthashContext {
  EthashEpochSpec spec;
  uint64_t light_cache_size = 0;   // bytes
  uint64_t full_dataset_size = 0;  // bytes
  Hash256 seed{};
  EthashNodes light_cache;
  std::vector<uint32_t> l1_cache;  // KawPow: the first 16 KiB of the DAG; empty otherwise

  uint32_t light_cache_nodes() const { return static_cast<uint32_t>(light_cache.size()); }
  uint32_t full_dataset_items() const { return static_cast<uint32_t>(full_dataset_size / 128); }

  // The built dataset, or null.
  std::shared_ptr<const EthashDataset> full_dataset() const;
  // Builds the dataset once (concurrent callers wait for the first) and keeps it here.
  // threads: 0 = std::thread::hardware_concurrency(). progress runs on the calling thread.
  std::shared_ptr<const EthashDataset> build_full_dataset(unsigned threads = 0,
                                                         const EthashProgress& progress = {}) const;
  // Forgets the dataset (callers holding it keep theirs alive).
  void drop_full_dataset() const;

 private:
  mutable std::mutex build_mutex_;    // held while building
  mutable std::mutex dataset_mutex_;  // guards dataset_
  mutable std::shared_ptr<const EthashDataset> dataset_;
};

// The light cache of `size_bytes` from `seed` (3 rounds of RandMemoHash).
EthashNodes ethash_build_light_cache(const Hash256& seed, uint64_t size_bytes);
// A fresh context (not cached). Throws std::invalid_argument beyond kEthashMaxEpoch.
std::shared_ptr<EthashContext> ethash_make_context(const EthashEpochSpec& spec);

// Cached contexts: a thread-safe LRU of the last few, so share checks reuse them and
// concurrent callers for the same epoch build it once.
std::shared_ptr<const EthashContext> ethash_context(const EthashEpochSpec& spec);
std::shared_ptr<const EthashContext> ethash_context(EthashVariant v, uint64_t epoch);
std::shared_ptr<const EthashContext> ethash_context_for_block(EthashVariant v, uint64_t block_number);
std::shared_ptr<const EthashContext> kawpow_context(uint64_t epoch);

// DAG node `index` computed from the light cache (spec.parents parents).
EthashNode ethash_dag_node(const EthashContext& ctx, uint32_t index);
// Nodes first..first+count-1 (count <= 8) computed together to overlap cache misses.
void ethash_dag_nodes(const EthashContext& ctx, uint32_t first, unsigned count, EthashNode* out);
// Nodes [first, first+count) into out, on `threads` threads (0 = all), with progress.
void ethash_build_dag_range(const EthashContext& ctx, uint64_t first, uint64_t count, EthashNode* out,
                            unsigned threads = 0, const EthashProgress& progress = {});

// ---- hashing ---------------------------------------------------------------------------

struct EthashResult {
  Hash256 mix{};
  Hash256 final_hash{};
};

// Ethash/etchash: light evaluation computes the 128 DAG nodes it needs from the cache (the
// pool's share check); full evaluation reads them from the built dataset.
EthashResult ethash_hash_light(const EthashContext& ctx, const Hash256& header_hash, uint64_t nonce);
EthashResult ethash_hash_full(const EthashContext& ctx, const EthashDataset& dataset,
                              const Hash256& header_hash, uint64_t nonce);
EthashResult ethash_hash_light(EthashVariant v, uint64_t block_number, const Hash256& header_hash,
                               uint64_t nonce);
// Uses the epoch's dataset, building it first (1 GiB+, minutes) if it is not built yet.
EthashResult ethash_hash_full(EthashVariant v, uint64_t block_number, const Hash256& header_hash,
                              uint64_t nonce);

// KawPow: the context must be kawpow_context(block_height / 7500) (checked).
EthashResult kawpow_hash_light(const EthashContext& ctx, uint64_t block_height, const Hash256& header_hash,
                               uint64_t nonce);
EthashResult kawpow_hash_full(const EthashContext& ctx, const EthashDataset& dataset, uint64_t block_height,
                              const Hash256& header_hash, uint64_t nonce);
EthashResult kawpow_hash_light(uint64_t block_height, const Hash256& header_hash, uint64_t nonce);
EthashResult kawpow_hash_full(uint64_t block_height, const Hash256& header_hash, uint64_t nonce);
// The 8 Keccak-f[800] state words after the initial absorb (words 0 and 1 seed the mix).
std::array<uint32_t, 8> kawpow_seed_words(const Hash256& header_hash, uint64_t nonce);

// ---- ProgPoW primitives (exposed for the vector tests) ----------------------------------

namespace progpow {

inline constexpr uint32_t kFnvOffsetBasis = 0x811c9dc5;
inline constexpr int kNumRegs = 32;
inline constexpr int kNumLanes = 16;
inline constexpr int kNumCacheAccesses = 11;
inline constexpr int kNumMathOperations = 18;
inline constexpr int kNumLoops = 64;
inline constexpr uint32_t kL1CacheWords = 4096;  // 16 KiB

uint32_t fnv1a(uint32_t h, uint32_t d);

struct Kiss99 {
  uint32_t z, w, jsr, jcong;
  uint32_t next();
};

using Mix = std::array<std::array<uint32_t, kNumRegs>, kNumLanes>;
// The initial register file for a hash seed (lo = seed word 0, hi = seed word 1).
Mix init_mix(uint32_t seed_lo, uint32_t seed_hi);

// The per-period program state: KISS99 plus the shuffled register sequences.
struct ProgramState {
  Kiss99 rng;
  std::array<uint32_t, kNumRegs> dst_seq;
  std::array<uint32_t, kNumRegs> src_seq;
  uint32_t dst_counter = 0;
  uint32_t src_counter = 0;
  uint32_t next_dst() { return dst_seq[dst_counter++ % kNumRegs]; }
  uint32_t next_src() { return src_seq[src_counter++ % kNumRegs]; }
};
ProgramState program_state(uint64_t prog_seed);  // prog_seed = block_height / period

uint32_t random_merge(uint32_t a, uint32_t b, uint32_t selector);
uint32_t random_math(uint32_t a, uint32_t b, uint32_t selector);

}  // namespace progpow

// ---- Algorithm factories (defined in ethash_algorithm.cpp) ------------------------------

// options.variant: "auto" or "light" (light evaluation, full when the epoch's dataset has
// been built elsewhere), "full" (search() builds the dataset with options.init_threads).
std::unique_ptr<Algorithm> make_ethash_algorithm(EthashVariant v, const AlgorithmOptions& options);
std::unique_ptr<Algorithm> make_kawpow_algorithm(const AlgorithmOptions& options);

}  // namespace otedama::crypto
