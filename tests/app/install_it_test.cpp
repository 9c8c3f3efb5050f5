// `make install` lays out the binary, the example config and a systemd unit under a prefix.
#include <gtest/gtest.h>

#include "support/support.h"

using namespace otedama::test;

TEST(Install, PrefixLayout) {
  TempDir d;
  std::string prefix = (d.path() / "prefix").string();
  auto r = run({"/usr/bin/cmake", "--install", OTEDAMA_BUILD_DIR, "--prefix", prefix, "--strip"}, d.path(),
               std::chrono::seconds(120));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto bin = std::filesystem::path(prefix) / "bin" / "otedama";
  ASSERT_TRUE(std::filesystem::exists(bin));
  EXPECT_LT(std::filesystem::file_size(bin), 15u << 20);  // the stripped binary stays small
  auto v = run({bin.string(), "version"}, d.path());
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(read_file(std::filesystem::path(prefix) / "etc/otedama/config.example.yaml"),
            read_file(OTEDAMA_SOURCE_DIR "/config.example.yaml"));
  std::string unit = read_file(std::filesystem::path(prefix) / "lib/systemd/system/otedama.service");
  EXPECT_NE(unit.find("ExecStart=" + prefix + "/bin/otedama serve --config " + prefix + "/etc/otedama/config.yaml"),
            std::string::npos)
      << unit;
  auto validate = run({bin.string(), "config", "validate", prefix + "/etc/otedama/config.example.yaml"}, d.path());
  EXPECT_EQ(validate.code, 0) << validate.err;
}
