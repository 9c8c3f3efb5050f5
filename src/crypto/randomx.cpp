// RandomXHasher (one thread's VM), the one-off randomx_hash and CPU feature detection.
#include <randomx.h>

#include <algorithm>
#include <stdexcept>

#include "crypto/randomx.h"

namespace otedama::crypto {
namespace {

randomx_flags vm_flags(RandomXMode mode) {
  randomx_flags f = randomx_get_flags() & (RANDOMX_FLAG_JIT | RANDOMX_FLAG_HARD_AES);
  if (mode == RandomXMode::fast) f |= RANDOMX_FLAG_FULL_MEM;
  return f;
}

const void* data_or_dummy(ByteSpan s) {
  static const uint8_t dummy = 0;  // librandomx wants non-null pointers, even for 0 bytes
  return s.empty() ? &dummy : s.data();
}

}  // namespace

RandomXCpu randomx_cpu() {
  const randomx_flags f = randomx_get_flags();
  RandomXCpu c;
  c.jit = f & RANDOMX_FLAG_JIT;
  c.hard_aes = f & RANDOMX_FLAG_HARD_AES;
  c.argon2_ssse3 = f & RANDOMX_FLAG_ARGON2_SSSE3;
  c.argon2_avx2 = f & RANDOMX_FLAG_ARGON2_AVX2;
  return c;
}

std::string randomx_features_text(const RandomXCpu& c) {
  std::string s = c.jit ? "jit" : "interpreter";
  s += c.hard_aes ? ", hard-aes" : ", soft-aes";
  if (c.argon2_avx2)
    s += ", argon2-avx2";
  else if (c.argon2_ssse3)
    s += ", argon2-ssse3";
  return s;
}

RandomXHasher::RandomXHasher(RandomXMode mode, RandomXContexts& contexts)
    : contexts_(&contexts), mode_(mode) {}

RandomXHasher::~RandomXHasher() {
  if (vm_) randomx_destroy_vm(vm_);
}

void RandomXHasher::use_key(ByteSpan key) {
  if (epoch_ && std::ranges::equal(epoch_->key(), key)) return;
  if (pipelining_) throw std::logic_error("RandomXHasher: key changed during pipelined hashing");
  std::shared_ptr<const RandomXEpoch> epoch = contexts_->get(key, mode_);
  if (!vm_) {
    const randomx_flags flags = vm_flags(mode_);
    if (contexts_->options().large_pages)  // the 2 MiB scratchpad
      vm_ = randomx_create_vm(flags | RANDOMX_FLAG_LARGE_PAGES, epoch->cache(), epoch->dataset());
    if (!vm_) vm_ = randomx_create_vm(flags, epoch->cache(), epoch->dataset());
    if (!vm_) throw std::runtime_error("RandomX: cannot create a VM");
  } else if (mode_ == RandomXMode::light) {
    randomx_vm_set_cache(vm_, epoch->cache());
  } else {
    randomx_vm_set_dataset(vm_, epoch->dataset());
  }
  epoch_ = std::move(epoch);  // the previous epoch may be freed now, never before
}

Hash256 RandomXHasher::hash(ByteSpan key, ByteSpan input) {
  if (pipelining_) throw std::logic_error("RandomXHasher: hash() during pipelined hashing");
  use_key(key);
  Hash256 out;
  randomx_calculate_hash(vm_, data_or_dummy(input), input.size(), out.data());
  return out;
}

void RandomXHasher::begin(ByteSpan key, ByteSpan input) {
  if (pipelining_) throw std::logic_error("RandomXHasher: begin() twice without finish()");
  use_key(key);
  std::fegetenv(&saved_fenv_);
  randomx_calculate_hash_first(vm_, data_or_dummy(input), input.size());
  pipelining_ = true;
}

Hash256 RandomXHasher::next(ByteSpan input) {
  if (!pipelining_) throw std::logic_error("RandomXHasher: next() without begin()");
  Hash256 out;
  randomx_calculate_hash_next(vm_, data_or_dummy(input), input.size(), out.data());
  return out;
}

Hash256 RandomXHasher::finish() {
  if (!pipelining_) throw std::logic_error("RandomXHasher: finish() without begin()");
  Hash256 out;
  randomx_calculate_hash_last(vm_, out.data());
  pipelining_ = false;
  std::fesetenv(&saved_fenv_);
  return out;
}

Hash256 randomx_hash(ByteSpan key, ByteSpan input) {
  thread_local RandomXHasher hasher(RandomXMode::light, RandomXContexts::shared());
  return hasher.hash(key, input);
}

}  // namespace otedama::crypto
