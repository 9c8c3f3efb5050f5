// The strict exposition parser itself: it accepts well-formed text and rejects what a
// scraper would reject, so the checks built on it can fail.
#include <gtest/gtest.h>

#include "api/exposition.h"
#include "core/core.h"

using namespace otedama;

TEST(Exposition, AcceptsTheRegistryOutput) {
  Metrics m;
  m.counter("otedama_shares_total", "Shares.", {{"coin", "litecoin"}, {"result", "valid"}}).inc(3);
  m.gauge("otedama_pool_hashrate_hashes_per_second", "H/s.", {{"coin", "litecoin"}, {"window", "1m"}}).set(1.5e6);
  auto& h = m.histogram("otedama_share_check_seconds", "Check.", {0.001, 0.01}, {{"coin", "litecoin"}});
  h.observe(0.0005), h.observe(0.005), h.observe(1);
  auto e = test::parse_exposition(m.render());
  EXPECT_EQ(e.types["otedama_shares_total"], "counter");
  EXPECT_EQ(e.sum("otedama_shares_total", {"result=\"valid\""}), 3);
  EXPECT_EQ(e.sum("otedama_pool_hashrate_hashes_per_second", {"window=\"1m\""}), 1.5e6);
  EXPECT_EQ(e.sum("otedama_share_check_seconds_count"), 3);
}

TEST(Exposition, RejectsMalformedText) {
  for (const char* bad : {
           "metric 1",                                     // no trailing newline
           "9metric 1\n",                                  // bad name
           "m{a=\"1\" 2\n",                                // unterminated labels
           "m{a=1} 2\n",                                   // unquoted value
           "m{a=\"1\",a=\"2\"} 2\n",                       // repeated label
           "m{a=\"\\x\"} 2\n",                             // bad escape
           "m one\n",                                      // bad value
           "m 1 2 3\n",                                    // trailing text
           "# TYPE m counter\nm -1\n",                     // negative counter
           "# TYPE m gauge\n# TYPE m gauge\nm 1\n",        // second TYPE
           "m 1\n# TYPE m gauge\n",                        // TYPE after samples
           "m 1\nm 2\n",                                   // duplicate series
           "# TYPE m wibble\n",                            // bad type
           "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 4\n",  // not cumulative
       })
    EXPECT_THROW(test::parse_exposition(bad), std::runtime_error) << bad;
}
