// The otedama command line, run as a user would: help, bad words and flags, exit codes,
// config validate/init.
#include <gtest/gtest.h>

#include "support/support.h"

using namespace otedama::test;

namespace {
const std::string kBin = OTEDAMA_BIN;
}

TEST(Cli, HelpListsCommandsAndExitsZero) {
  TempDir d;
  auto r = run({kBin, "--help"}, d.path());
  EXPECT_EQ(r.code, 0);
  for (const char* cmd : {"serve", "status", "config", "version"}) EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  for (const char* sub : {"serve", "status", "config", "version"}) {
    auto h = run({kBin, sub, "--help"}, d.path());
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, Version) {
  TempDir d;
  auto r = run({kBin, "version"}, d.path());
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("otedama 0.", 0), 0u) << r.out;
}

TEST(Cli, UnknownCommandAndFlagsExitTwo) {
  TempDir d;
  auto r = run({kBin, "frobnicate"}, d.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = run({kBin, "--frobnicate"}, d.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option"), std::string::npos) << r.err;
  r = run({kBin, "serve", "--frobnicate"}, d.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  r = run({kBin}, d.path());
  EXPECT_EQ(r.code, 2);
  r = run({kBin, "config"}, d.path());
  EXPECT_EQ(r.code, 2);
  r = run({kBin, "config", "validate"}, d.path());
  EXPECT_EQ(r.code, 2);
}

TEST(Cli, ConfigInitPrintsAFileThatValidates) {
  TempDir d;
  auto init = run({kBin, "config", "init"}, d.path());
  ASSERT_EQ(init.code, 0);
  EXPECT_EQ(init.out, read_file(OTEDAMA_SOURCE_DIR "/config.example.yaml"));
  std::string f = d.file("c.yaml", init.out);
  auto v = run({kBin, "config", "validate", f}, d.path());
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.out, "ok\n");
}

TEST(Cli, ConfigValidateReportsEveryError) {
  TempDir d;
  std::string f = d.file("bad.yaml", "app:\n  mode: staging\npool:\n  adress: x\n  rewards: {window: \"2 hours\"}\n");
  auto v = run({kBin, "config", "validate", f}, d.path());
  EXPECT_EQ(v.code, 2);
  EXPECT_NE(v.err.find("bad.yaml:2:"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("app.mode"), std::string::npos);
  EXPECT_NE(v.err.find("pool.adress"), std::string::npos);
  EXPECT_NE(v.err.find("did you mean 'address'"), std::string::npos);
  EXPECT_NE(v.err.find("pool.rewards.window"), std::string::npos);
  EXPECT_NE(v.err.find("3 errors"), std::string::npos);
  auto missing = run({kBin, "config", "validate", (d.path() / "none.yaml").string()}, d.path());
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos);
}

TEST(Cli, ConfigValidateHonoursEnvironment) {
  TempDir d;
  std::string f = d.file("c.yaml", "pool: {rewards: {window: 2h}}\n");
  auto v = run({kBin, "config", "validate", f}, d.path(), std::chrono::seconds(30), {"OTEDAMA_POOL__REWARDS__WINDOW=never"});
  EXPECT_EQ(v.code, 2);
  EXPECT_NE(v.err.find("OTEDAMA_POOL__REWARDS__WINDOW"), std::string::npos) << v.err;
}

TEST(Cli, ServeRefusesBadConfigWithExitTwo) {
  TempDir d;
  std::string f = d.file("bad.yaml", "api: {address: \"nowhere\"}\n");
  auto r = run({kBin, "serve", "--config", f}, d.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("api.address"), std::string::npos) << r.err;
}

TEST(Cli, StatusWithNoNodeExitsOne) {
  TempDir d;
  auto r = run({kBin, "status", "--api", "http://127.0.0.1:" + std::to_string(free_port())}, d.path());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no Otedama node answers"), std::string::npos) << r.err;
  auto bad = run({kBin, "status", "--api", "not-a-url"}, d.path());
  EXPECT_EQ(bad.code, 2);
}
