// Heavy (not in CI; ~5 min): over at least 200 shares of the three-node test network, each
// miner's part of the share chain's work is within ±20 % of its part of the hashrate (measured
// by its node from its Stratum pseudo-shares), and every block in litecoind's best chain pays
// the recomputed PPLNS split to the atom.
#include "p2p_network.h"

using namespace otedama;
using namespace otedama::test;
using namespace otedama::test::p2pnet;

namespace {

class P2pHeavy : public P2pNetwork {};

TEST_F(P2pHeavy, WorkFollowsHashrateOverTwoHundredShares) {
  // Past the start-up ramp (the retarget climbs from the floor), count 240 shares.
  ASSERT_TRUE(eventually([&] { return height(0) >= 60; }, std::chrono::seconds(180)));
  uint64_t from = height(0);
  ASSERT_TRUE(eventually([&] { return height(0) >= from + 240; }, std::chrono::seconds(900)));
  // Hashrate over the same period, from each node's view of its own miner.
  double hashrate[kNodes], hr_total = 0;
  for (int i = 0; i < kNodes; ++i) {
    auto m = get_json(nodes[i].api, "/api/miners/" + nodes[i].payout).value();
    hashrate[i] = m["hashrate"]["15m"].get<double>();
    hr_total += hashrate[i];
  }
  auto list = get_json(nodes[0].api, "/api/p2p/shares?limit=100000").value()["shares"];
  std::map<std::string, double> work;
  double total = 0;
  int counted = 0;
  for (auto& s : list) {
    if (s["height"].get<uint64_t>() <= from) continue;
    work[s["payout_script"].get<std::string>()] += s["work"].get<double>();
    total += s["work"].get<double>();
    ++counted;
  }
  EXPECT_GE(counted, 200);
  for (int i = 0; i < kNodes; ++i) {
    std::string script = daemons[i]->cli({"getaddressinfo", nodes[i].payout});
    std::string spk = json::parse(script)["scriptPubKey"];
    double part_work = work[spk] / total, part_hash = hashrate[i] / hr_total;
    std::printf("miner %d: %.1f %% of the work, %.1f %% of the hashrate\n", i, 100 * part_work, 100 * part_hash);
    EXPECT_NEAR(part_work / part_hash, 1.0, 0.2) << "miner " << i;
  }
  for (auto& n : nodes) n.miner->signal(SIGTERM);
  for (auto& n : nodes) n.miner->wait(std::chrono::seconds(10));
  auto r = check_blocks(0);
  std::printf("%d blocks in the coin's best chain checked, %d orphaned by the coin\n", r.in_chain, r.orphaned);
  EXPECT_GE(r.in_chain, 20);
}

}  // namespace
