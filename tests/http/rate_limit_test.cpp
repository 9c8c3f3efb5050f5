// The per-client token bucket: burst, sustained rate, Retry-After, bounded memory, and the
// router filter that turns it into 429 answers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http.h"

using namespace otedama;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(RateLimiter, BurstThenSustainedRate) {
  http::RateLimiter rl({.rate = 2, .burst = 3});
  auto t0 = clock_type::now();
  EXPECT_EQ(rl.acquire("1.2.3.4", t0), 0);
  EXPECT_EQ(rl.acquire("1.2.3.4", t0), 0);
  EXPECT_EQ(rl.acquire("1.2.3.4", t0), 0);
  // Empty bucket: one token comes back after 1/rate = 0.5 s.
  EXPECT_DOUBLE_EQ(rl.acquire("1.2.3.4", t0), 0.5);
  EXPECT_DOUBLE_EQ(rl.acquire("1.2.3.4", t0 + milliseconds(250)), 0.25);
  EXPECT_EQ(rl.acquire("1.2.3.4", t0 + milliseconds(500)), 0);
  EXPECT_GT(rl.acquire("1.2.3.4", t0 + milliseconds(500)), 0);
  // Another client has its own bucket.
  EXPECT_EQ(rl.acquire("5.6.7.8", t0 + milliseconds(500)), 0);
  // A long pause refills to the burst, not beyond.
  auto later = t0 + std::chrono::seconds(100);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rl.acquire("1.2.3.4", later), 0) << i;
  EXPECT_GT(rl.acquire("1.2.3.4", later), 0);
}

TEST(RateLimiter, MemoryIsBoundedAndIdleClientsAreForgotten) {
  http::RateLimiter rl({.rate = 1, .burst = 2, .max_keys = 2});
  auto t0 = clock_type::now();
  EXPECT_EQ(rl.acquire("a", t0), 0);
  EXPECT_EQ(rl.acquire("b", t0), 0);
  // Both tracked clients are active (buckets not full): a third is refused, not tracked.
  EXPECT_GT(rl.acquire("c", t0), 0);
  EXPECT_EQ(rl.tracked(), 2u);
  // One second later both buckets are full again: they are forgotten and c gets in.
  EXPECT_EQ(rl.acquire("c", t0 + std::chrono::seconds(1)), 0);
  EXPECT_EQ(rl.tracked(), 1u);
}

TEST(RateLimiter, RefusesNonsenseOptions) {
  EXPECT_THROW(http::RateLimiter({.rate = 0, .burst = 3}), std::invalid_argument);
  EXPECT_THROW(http::RateLimiter({.rate = 1, .burst = 0.5}), std::invalid_argument);
}

TEST(RateLimiter, RouterFilterAnswers429WithRetryAfter) {
  http::Router router;
  router.add("GET", "/x", [](const http::Request&) { return http::Response::json(200, "{}"); });
  auto rl = std::make_shared<http::RateLimiter>(http::RateLimiter::Options{.rate = 0.4, .burst = 1});
  router.set_filter([rl](const http::Request& r) -> std::optional<http::Response> {
    if (double wait = rl->acquire(r.remote_ip)) return http::too_many_requests(wait, "slow down");
    return std::nullopt;
  });
  http::Request req;
  req.method = "GET";
  req.path = "/x";
  req.remote_ip = "9.9.9.9";
  EXPECT_EQ(router.dispatch(req).status, 200u);
  auto r = router.dispatch(req);
  EXPECT_EQ(r.status, 429u);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "3");  // 1 token at 0.4/s = 2.5 s, rounded up
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], 429);
  EXPECT_EQ(j["error"]["message"], "slow down");
  // The filter also guards unknown paths (no probing around it).
  req.path = "/nope";
  EXPECT_EQ(router.dispatch(req).status, 429u);
}
