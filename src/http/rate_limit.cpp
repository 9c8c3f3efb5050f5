#include <cmath>

#include "http/http.h"

namespace otedama::http {

RateLimiter::RateLimiter(Options options) : options_(options) {
  if (!(options_.rate > 0) || !(options_.burst >= 1))
    throw std::invalid_argument("rate limit: requests_per_second must be > 0 and burst >= 1");
}

double RateLimiter::acquire(const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_keys) prune(now);
    if (buckets_.size() >= options_.max_keys) return 1.0;  // every tracked client is active: refuse new ones
    it = buckets_.emplace(key, Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) {
    b.tokens = std::min(options_.burst, b.tokens + elapsed * options_.rate);
    b.last = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / options_.rate;
}

// A bucket that has refilled completely is the same as no bucket: forget it.
void RateLimiter::prune(std::chrono::steady_clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double elapsed = std::chrono::duration<double>(now - it->second.last).count();
    if (it->second.tokens + elapsed * options_.rate >= options_.burst) it = buckets_.erase(it);
    else ++it;
  }
}

size_t RateLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

Response too_many_requests(double retry_after_seconds, const std::string& message) {
  Response r = Response::error(429, message);
  long secs = std::max(1L, long(std::ceil(retry_after_seconds)));
  r.headers.emplace_back("Retry-After", std::to_string(secs));
  return r;
}

}  // namespace otedama::http
