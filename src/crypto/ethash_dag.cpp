// The full Ethash/KawPow dataset: multi-threaded generation and the context's dataset slot.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "crypto/ethash.h"

namespace otedama::crypto {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeThreshold = size_t{4} << 20;
}  // namespace

void* ethash_alloc_nodes(size_t bytes) {
  if (bytes < kHugeThreshold) return ::operator new(bytes, std::align_val_t{64});
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(p, rounded, MADV_HUGEPAGE);  // best effort
#endif
  return p;
}

void ethash_free_nodes(void* p, size_t bytes) noexcept {
  if (bytes < kHugeThreshold)
    ::operator delete(p, std::align_val_t{64});
  else
    std::free(p);
}

void ethash_build_dag_range(const EthashContext& ctx, uint64_t first, uint64_t count, EthashNode* out,
                            unsigned threads, const EthashProgress& progress) {
  const uint64_t total_nodes = ctx.full_dataset_size / 64;
  if (first > total_nodes || count > total_nodes - first)
    throw std::invalid_argument("ethash: DAG range beyond the epoch's dataset");
  if (count == 0) return;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());

  // Work is handed out in chunks; the calling thread works too and reports progress, so the
  // callback never runs concurrently with itself.
  constexpr uint64_t kChunk = 4096;
  const uint64_t chunks = (count + kChunk - 1) / kChunk;
  threads = static_cast<unsigned>(std::min<uint64_t>(threads, chunks));
  std::atomic<uint64_t> next_chunk{0};
  std::atomic<uint64_t> done_nodes{0};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto work = [&](bool report) {
    try {
      for (;;) {
        const uint64_t c = next_chunk.fetch_add(1);
        if (c >= chunks) return;
        const uint64_t begin = c * kChunk;
        const uint64_t end = std::min(count, begin + kChunk);
        for (uint64_t i = begin; i < end; i += 8) {
          const unsigned n = static_cast<unsigned>(std::min<uint64_t>(8, end - i));
          ethash_dag_nodes(ctx, static_cast<uint32_t>(first + i), n, out + i);
        }
        const uint64_t done = done_nodes.fetch_add(end - begin) + (end - begin);
        if (report && progress) progress(static_cast<double>(done) / static_cast<double>(count));
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next_chunk.store(chunks);  // stop the others
    }
  };

  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (unsigned t = 1; t < threads; ++t) workers.emplace_back(work, false);
  work(true);
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
  if (progress) progress(1.0);
}

std::shared_ptr<const EthashDataset> EthashContext::full_dataset() const {
  std::lock_guard lock(dataset_mutex_);
  return dataset_;
}

std::shared_ptr<const EthashDataset> EthashContext::build_full_dataset(unsigned threads,
                                                                       const EthashProgress& progress) const {
  std::lock_guard build_lock(build_mutex_);
  if (auto existing = full_dataset()) return existing;
  auto dataset = std::make_shared<EthashDataset>();
  dataset->num_nodes = full_dataset_size / 64;
  dataset->nodes.resize(dataset->num_nodes);
  ethash_build_dag_range(*this, 0, dataset->num_nodes, dataset->nodes.data(), threads, progress);
  std::lock_guard lock(dataset_mutex_);
  dataset_ = dataset;
  return dataset_;
}

void EthashContext::drop_full_dataset() const {
  std::lock_guard build_lock(build_mutex_);
  std::lock_guard lock(dataset_mutex_);
  dataset_.reset();
}

}  // namespace otedama::crypto
