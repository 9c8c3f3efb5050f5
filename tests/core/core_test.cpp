#include <gtest/gtest.h>

#include <cmath>

#include "core/core.h"

using namespace otedama;

TEST(Hex, RoundTripAndErrors) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "0001abff");
  EXPECT_EQ(from_hex("0001ABff"), b);
  EXPECT_TRUE(from_hex("").empty());
  EXPECT_THROW(from_hex("abc"), std::invalid_argument);
  EXPECT_THROW(from_hex("zz"), std::invalid_argument);
  EXPECT_THROW(hash_from_hex("00"), std::invalid_argument);
}

TEST(U256, CompactBitsMatchBitcoin) {
  // Genesis bits 0x1d00ffff -> 00000000ffff0000...
  U256 t = U256::from_compact(0x1d00ffff);
  EXPECT_EQ(t.to_hex(), "00000000ffff0000000000000000000000000000000000000000000000000000");
  // Litecoin regtest 0x207fffff -> 7fffff00...
  EXPECT_EQ(U256::from_compact(0x207fffff).to_hex(), "7fffff0000000000000000000000000000000000000000000000000000000000");
  EXPECT_TRUE(U256::from_compact(0x04923456).is_zero());  // negative bit set
  EXPECT_EQ(U256::from_compact(0x01123456).to_hex(), std::string(62, '0') + "12");
}

TEST(U256, ByteOrdersAndShifts) {
  Bytes le(32, 0);
  le[0] = 1;
  le[31] = 0x80;
  U256 v = U256::from_le_bytes(le.data());
  EXPECT_EQ(v.w[0], 1u);
  EXPECT_EQ(v.w[3], 0x8000000000000000ull);
  uint8_t be[32];
  v.to_be_bytes(be);
  EXPECT_EQ(be[0], 0x80);
  EXPECT_EQ(be[31], 1);
  EXPECT_EQ(U256::from_be_bytes(be), v);
  EXPECT_EQ((U256::from_u64(1) << 255).w[3], 0x8000000000000000ull);
  EXPECT_EQ((U256::from_u64(1) << 255) >> 255, U256::from_u64(1));
  EXPECT_EQ((U256::from_u64(3) << 64).w[1], 3u);
  EXPECT_EQ(U256::from_u64(1) << 256, U256{});
  EXPECT_LT(U256::from_u64(5), U256::from_u64(1) << 64);
  EXPECT_EQ(U256::from_hex("ff").w[0], 255u);
  EXPECT_EQ((U256::from_u64(1) << 200).bits(), 201);
}

TEST(U256, TargetFromDifficulty) {
  U256 diff1 = U256::from_compact(0x1d00ffff);
  EXPECT_EQ(target_from_difficulty(1, diff1), diff1);
  EXPECT_EQ(target_from_difficulty(2, diff1), diff1 >> 1);
  EXPECT_EQ(target_from_difficulty(65536, diff1), diff1 >> 16);
  // Fractional difficulties raise the target: 2^-32 gives diff1 << 32.
  EXPECT_EQ(target_from_difficulty(std::ldexp(1.0, -32), diff1), diff1 << 32);
  EXPECT_NEAR(difficulty_from_target(target_from_difficulty(1234.5, diff1), diff1), 1234.5, 1e-6);
  EXPECT_EQ(target_from_difficulty(1e-300, diff1), U256::max());
  EXPECT_EQ(target_from_difficulty_2_256(1), U256::max());
  EXPECT_EQ(target_from_difficulty_2_256(4).w[3], 0x3fffffffffffffffull);
}

TEST(Durations, ParseAndFormat) {
  using namespace std::chrono;
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("5s"), seconds(5));
  EXPECT_EQ(parse_duration("2h"), hours(2));
  EXPECT_EQ(parse_duration("24h"), hours(24));
  EXPECT_EQ(parse_duration("1h30m"), minutes(90));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("7d"), hours(168));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("2 hours"));
  EXPECT_FALSE(parse_duration("h"));
  EXPECT_FALSE(parse_duration("5y"));
  EXPECT_EQ(format_duration(minutes(90)), "1h30m");
  EXPECT_EQ(format_duration(milliseconds(500)), "500ms");
}

TEST(Sizes, Parse) {
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("10MB"), 10000000u);
  EXPECT_EQ(parse_size("1GiB"), 1u << 30);
  EXPECT_FALSE(parse_size("ten"));
  EXPECT_FALSE(parse_size("10XB"));
}

TEST(Metrics, RendersExpositionFormat) {
  Metrics m;
  m.counter("otedama_shares_total", "Shares by result.", {{"coin", "litecoin"}, {"result", "valid"}}).inc(3);
  m.counter("otedama_shares_total", "Shares by result.", {{"coin", "litecoin"}, {"result", "stale"}}).inc();
  m.gauge("otedama_stratum_connections", "Open connections.").set(7);
  auto& h = m.histogram("otedama_share_check_seconds", "Share check time.", {0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(1);
  m.gauge("quoted", "Help with \\ and\nnewline.", {{"v", "a\"b\\c\nd"}}).set(1.5);
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE otedama_shares_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("otedama_shares_total{coin=\"litecoin\",result=\"valid\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("otedama_stratum_connections 7\n"), std::string::npos);
  EXPECT_NE(text.find("otedama_share_check_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("otedama_share_check_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("otedama_share_check_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("otedama_share_check_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("# HELP quoted Help with \\\\ and\\nnewline.\n"), std::string::npos);
  EXPECT_NE(text.find("quoted{v=\"a\\\"b\\\\c\\nd\"} 1.5\n"), std::string::npos);
  EXPECT_THROW(m.gauge("otedama_shares_total", "x"), std::logic_error);
}

TEST(Metrics, CollectorsRunBeforeRender) {
  Metrics m;
  auto& g = m.gauge("g", "derived");
  int calls = 0;
  m.add_collector([&](Metrics&) { g.set(++calls); });
  EXPECT_NE(m.render().find("g 1\n"), std::string::npos);
  EXPECT_NE(m.render().find("g 2\n"), std::string::npos);
}

TEST(EditDistance, Basics) {
  EXPECT_EQ(edit_distance("address", "adress"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}
