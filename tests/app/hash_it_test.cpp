// `otedama hash` and `otedama bench` as other tools call them: the public vectors through the
// command line (output byte orders exactly as the vector files write them), bad input -> exit 2.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/support.h"

using namespace otedama::test;
using nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

json vectors(const std::string& file) {
  std::ifstream in(std::string(OTEDAMA_VECTORS_DIR) + "/" + file);
  return json::parse(in);
}

std::string hash_cli(const std::vector<std::string>& args, int expect_code = 0) {
  TempDir d;
  std::vector<std::string> argv = {kBin, "hash"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, d.path(), std::chrono::seconds(120));
  EXPECT_EQ(r.code, expect_code) << r.err;
  return expect_code == 0 ? r.out : r.err;
}

// Vector fields are strings in some files and numbers in others.
std::string str(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

}  // namespace

TEST(HashCli, Sha256dVectors) {
  auto v = vectors("sha256d.json");
  for (const auto& h : v["block_headers"])
    EXPECT_EQ(hash_cli({"--algo", "sha256d", "--input", h["header_hex"]}), h["sha256d_raw_digest_hex"].get<std::string>() + "\n");
  for (const auto& m : v["raw_messages"])
    EXPECT_EQ(hash_cli({"--algo", "sha256d", "--input", m["message_hex"]}), m["sha256d_hex"].get<std::string>() + "\n");
}

TEST(HashCli, ScryptVectors) {
  auto v = vectors("scrypt.json");  // kept alive: a range-for over a temporary's member dangles
  ASSERT_EQ(v["mining_headers_N1024_r1_p1"].size(), 4u);
  for (const auto& h : v["mining_headers_N1024_r1_p1"])
    EXPECT_EQ(hash_cli({"--algo", "scrypt", "--input", h["header_hex"]}), h["pow_hash_raw_hex"].get<std::string>() + "\n");
}

TEST(HashCli, KeccakVectors) {
  int n = 0;
  auto v = vectors("keccak.json");
  ASSERT_GE(v["hash_chfast_text_prefixes"].size(), 8u);
  for (const auto& h : v["hash_chfast_text_prefixes"]) {
    if (++n > 8) break;  // the library test covers all of them; here the CLI's byte order
    EXPECT_EQ(hash_cli({"--algo", "keccak256", "--input", h["message_hex"]}), h["keccak256_hex"].get<std::string>() + "\n");
  }
}

TEST(HashCli, RandomXVectors) {
  auto v = vectors("randomx.json");
  ASSERT_EQ(v["rx0_v1"].size(), 5u);
  for (const auto& h : v["rx0_v1"])
    EXPECT_EQ(hash_cli({"--algo", "randomx", "--key", h["key_hex"], "--input", h["input_hex"]}),
              h["hash_hex"].get<std::string>() + "\n");
  // An empty key is valid.
  std::string out = hash_cli({"--algo", "randomx", "--key", "", "--input", "00"});
  EXPECT_EQ(out.size(), 65u);
}

TEST(HashCli, EthashAndKawpowEpochZeroVectors) {
  auto eth = vectors("ethash.json"), kaw = vectors("kawpow.json");
  int checked = 0;
  for (const auto& h : eth["hash"]) {
    if (str(h["epoch"]) != "0") continue;  // later epochs: library tests (heavier caches)
    ++checked;
    EXPECT_EQ(hash_cli({"--algo", "ethash", "--height", str(h["block_number"]), "--header", h["header_hash_hex"], "--nonce",
                        h["nonce_hex"]}),
              "mix=" + h["mix_hash_hex"].get<std::string>() + " final=" + h["final_hash_hex"].get<std::string>() + "\n");
  }
  for (const auto& h : kaw["hash"]) {
    if (str(h["epoch"]) != "0") continue;
    ++checked;
    EXPECT_EQ(hash_cli({"--algo", "kawpow", "--height", str(h["block_height"]), "--header", h["header_hash_hex"], "--nonce",
                        h["nonce_hex"]}),
              "mix=" + h["mix_hash_hex"].get<std::string>() + " final=" + h["final_hash_hex"].get<std::string>() + "\n");
  }
  EXPECT_EQ(checked, 6);
}

TEST(HashCli, BadInputExitsTwo) {
  EXPECT_NE(hash_cli({"--algo", "sha256d", "--input", "abc"}, 2).find("odd length"), std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "sha256d", "--input", "zz"}, 2).find("invalid hex"), std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "md5", "--input", "00"}, 2).find("unknown --algo"), std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "sha256d"}, 2).find("--input"), std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "randomx", "--input", "00"}, 2).find("--key"), std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "randomx", "--key", std::string(122, 'a'), "--input", "00"}, 2).find("0 to 60"),
            std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "ethash", "--height", "0", "--header", "00", "--nonce", "00"}, 2).find("32-byte"),
            std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "kawpow", "--height", "0", "--header", std::string(64, '0'), "--nonce", "xyz"}, 2)
                .find("--nonce"),
            std::string::npos);
  EXPECT_NE(hash_cli({"--algo", "kawpow", "--header", std::string(64, '0'), "--nonce", "00"}, 2).find("--height"),
            std::string::npos);
  hash_cli({"--input", "00"}, 2);  // --algo is required
}

TEST(BenchCli, JsonIsOneLineWithTheFields) {
  TempDir d;
  for (const char* algo : {"sha256d", "scrypt"}) {
    auto r = run({kBin, "bench", "--algo", algo, "--threads", "1", "--seconds", "1", "--json"}, d.path(),
                 std::chrono::seconds(60));
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    auto j = json::parse(r.out);
    EXPECT_EQ(j["algo"], algo);
    EXPECT_EQ(j["threads"], 1);
    EXPECT_TRUE(j["hashrate"].is_number());
    EXPECT_GT(j["hashrate"].get<double>(), 0);
    EXPECT_TRUE(j["variant"].is_string());
    EXPECT_TRUE(j["large_pages"].is_boolean());
  }
  auto text = run({kBin, "bench", "--algo", "sha256d", "--threads", "1", "--seconds", "1"}, d.path());
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("H/s"), std::string::npos) << text.out;
  EXPECT_EQ(run({kBin, "bench", "--algo", "md5"}, d.path()).code, 2);
  EXPECT_EQ(run({kBin, "bench", "--algo", "sha256d", "--seconds", "0"}, d.path()).code, 2);
  EXPECT_EQ(run({kBin, "bench", "--algo", "sha256d", "--variant", "quantum"}, d.path()).code, 2);
}
