// The P2P pool end to end: three `otedama serve` nodes on 127.0.0.1, each with its own litecoind
// regtest daemon (the daemons peered over loopback, so they follow one chain) and its own
// `otedama mine` paying a different address, on a test share chain (1 s shares, one share in 4
// a block). Checks: the nodes agree on the share-chain tip; every block in litecoind's best chain
// pays, to the atom, the PPLNS split recomputed here from the share chain (independently of the
// node's code); kill -9 of a node moves its miner to another node within 10 s, blocks keep
// coming, and the restarted node still has its chain and catches up; a partition (bans through
// the API) lets both sides mine, and after healing all nodes converge and the blocks still pay
// what the chain prescribes (blocks the coin itself orphaned are counted and reported).
#include "p2p_network.h"

using namespace otedama;
using namespace otedama::test;
using namespace otedama::test::p2pnet;

namespace {

class P2pE2E : public P2pNetwork {};

TEST_F(P2pE2E, ConvergesAndEveryBlockPaysTheWindow) {
  ASSERT_TRUE(eventually([&] { return height(0) >= 40; }, std::chrono::seconds(120)))
      << "the share chain did not grow: " << status(0).dump() << "\nminer: " << nodes[0].miner->err();
  for (int i = 0; i < kNodes; ++i) EXPECT_GE(status(i)["peers"].size(), 1u) << i;
  // Agreement within a few share times while mining goes on.
  EXPECT_TRUE(eventually([&] { return converged({0, 1, 2}); }, std::chrono::seconds(15), std::chrono::milliseconds(50)));

  // Each miner has work in the window (three addresses paid).
  auto st = status(0);
  std::set<std::string> scripts;
  for (auto& m : st["window"]) scripts.insert(m["payout_script"].get<std::string>());
  EXPECT_EQ(scripts.size(), 3u) << st.dump();

  auto r = check_blocks(0);
  EXPECT_GE(r.in_chain, 3) << "orphaned: " << r.orphaned;
  EXPECT_GT(r.checked_outputs, r.in_chain);  // blocks pay more than one miner
  RecordProperty("blocks_in_chain", r.in_chain);
  RecordProperty("blocks_orphaned_by_coin", r.orphaned);
  // Shares that were not blocks exist too (one in 4 is a block on this test network).
  auto list = get_json(nodes[0].api, "/api/p2p/shares?limit=1000").value()["shares"];
  int not_block = 0;
  for (auto& s : list) not_block += !s["block"].get<bool>();
  EXPECT_GT(not_block, 0);
}

// (CTest runs each test in its own process, each with a fresh network.)
TEST_F(P2pE2E, KilledNodeMinerFailsOverAndTheNodeCatchesUp) {
  ASSERT_TRUE(eventually([&] { return height(0) >= 20 && converged({0, 1, 2}); }, std::chrono::seconds(120)));
  auto before = get_json(nodes[0].api, "/api/p2p/shares?limit=100000").value()["shares"];
  ASSERT_GT(before.size(), 10u);
  int64_t found1 = blocks_found(1);
  nodes[0].node->signal(SIGKILL);
  nodes[0].node->wait(std::chrono::seconds(5));
  auto killed = std::chrono::steady_clock::now();
  std::string other1 = "connected to 127.0.0.1:" + std::to_string(nodes[1].stratum);
  std::string other2 = "connected to 127.0.0.1:" + std::to_string(nodes[2].stratum);
  bool moved = eventually(
      [&] {
        std::string out = nodes[0].miner->out() + nodes[0].miner->err();
        return out.find(other1) != std::string::npos || out.find(other2) != std::string::npos;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(100));
  EXPECT_TRUE(moved) << "miner 0 did not move within 10 s:\n" << nodes[0].miner->err();
  RecordProperty("failover_ms", int(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - killed)
                                        .count()));
  EXPECT_TRUE(eventually([&] { return blocks_found(1) > found1 + 1; }, std::chrono::seconds(60)))
      << "no blocks after the kill";

  // Restart on the same data directory: the chain it had is still there, and it catches up.
  start_node(0);
  auto after = get_json(nodes[0].api, "/api/p2p/shares?limit=100000").value()["shares"];
  std::set<std::string> have;
  for (auto& s : after) have.insert(s["hash"].get<std::string>());
  size_t kept = 0;
  for (auto& s : before) kept += have.count(s["hash"].get<std::string>());
  EXPECT_GE(kept + 2, before.size()) << "the restarted node lost shares from disk";
  EXPECT_TRUE(eventually([&] { return converged({0, 1, 2}); }, std::chrono::seconds(30), std::chrono::milliseconds(50)));
  // The miner returns to its preferred node.
  std::string home = "connected to 127.0.0.1:" + std::to_string(nodes[0].stratum);
  EXPECT_TRUE(eventually(
      [&] {
        std::string out = nodes[0].miner->err() + nodes[0].miner->out();
        auto last = [&](const std::string& what) {
          auto p = out.rfind(what);
          return p == std::string::npos ? -1 : int64_t(p);
        };
        return last(home) > std::max(last(other1), last(other2));
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200)))
      << "miner 0 did not return to its preferred node";
}

TEST_F(P2pE2E, PartitionHealsOntoTheHeaviestChain) {
  ASSERT_TRUE(eventually([&] { return height(0) >= 20; }, std::chrono::seconds(120)));
  ASSERT_TRUE(eventually([&] { return converged({0, 1, 2}); }, std::chrono::seconds(30), std::chrono::milliseconds(50)));
  std::string id[kNodes];
  for (int i = 0; i < kNodes; ++i) id[i] = node_id(i);
  auto ban = [&](int on, int who) {
    return post(nodes[on].api, "/api/p2p/bans", json{{"peer", id[who]}, {"seconds", 600}}.dump());
  };
  // {0, 1} | {2}
  EXPECT_EQ(ban(2, 0), 200);
  EXPECT_EQ(ban(2, 1), 200);
  EXPECT_EQ(ban(0, 2), 200);
  EXPECT_EQ(ban(1, 2), 200);
  ASSERT_TRUE(eventually([&] { return status(2)["peers"].empty(); }, std::chrono::seconds(10)));
  uint64_t h2 = height(2), h0 = height(0);
  // Both sides keep mining on their own.
  EXPECT_TRUE(eventually([&] { return height(2) >= h2 + 5 && height(0) >= h0 + 5; }, std::chrono::seconds(60)));
  EXPECT_TRUE(status(2)["peers"].empty());

  // Heal.
  for (auto [on, who] : {std::pair{2, 0}, {2, 1}, {0, 2}, {1, 2}})
    EXPECT_EQ(post(nodes[on].api, "/api/p2p/bans/" + id[who], "", "DELETE"), 200);
  EXPECT_TRUE(eventually([&] { return !status(2)["peers"].empty(); }, std::chrono::seconds(90)));
  EXPECT_TRUE(eventually([&] { return converged({0, 1, 2}); }, std::chrono::seconds(60), std::chrono::milliseconds(50)));

  // Stop mining, let everything settle, then every block in the coin's best chain pays exactly
  // what the (converged) share chain prescribes.
  for (auto& n : nodes) n.miner->signal(SIGTERM);
  for (auto& n : nodes) n.miner->wait(std::chrono::seconds(10));
  EXPECT_TRUE(eventually([&] { return converged({0, 1, 2}); }, std::chrono::seconds(30), std::chrono::milliseconds(50)));
  std::string best = daemons[0]->cli({"getbestblockhash"});
  EXPECT_TRUE(eventually([&] { return daemons[2]->cli({"getbestblockhash"}) == best; }, std::chrono::seconds(30)));
  for (int i : {0, 2}) {
    auto r = check_blocks(i);
    EXPECT_GE(r.in_chain, 3);
    RecordProperty("node" + std::to_string(i) + "_blocks_in_chain", r.in_chain);
    RecordProperty("node" + std::to_string(i) + "_blocks_orphaned_by_coin", r.orphaned);
    std::printf("node %d: %d share-chain blocks in litecoind's best chain, %d orphaned by the coin\n", i, r.in_chain,
                r.orphaned);
  }
}

}  // namespace
