// The payout processor on Monero: monerod regtest and monero-wallet-rpc with a real SQLite
// store. A payable balance is paid once through transfer (do_not_relay) + relay_tx and confirmed;
// a processor stopped after the transfer was recorded but before relay_tx relays the recorded
// transaction at its next start, and the miner's wallet receives exactly one transfer.
#include <gtest/gtest.h>

#include <set>

#include "chain/monero.h"
#include "pool/payout.h"
#include "support/monerod.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::pool;
using json = nlohmann::json;

namespace {

struct Fixture {
  test::Monerod node{{.fixed_difficulty = 1}};
  test::MoneroWallet pool{node, "pool"};
  test::MoneroWallet miner{node, "miner"};
  test::TempDir dir;
  std::shared_ptr<store::Store> db;

  Fixture() {
    // Coinbase outputs unlock after 60 blocks; ring members come from the same chain.
    node.rpc("generateblocks", {{"amount_of_blocks", 80}, {"wallet_address", pool.address()}});
    pool.rpc("refresh");
    store::Options o;
    o.path = (dir.path() / "otedama.db").string();
    db = std::shared_ptr<store::Store>(store::open(o));
  }
  std::unique_ptr<PayoutWallet> wallet() const {
    chain::monero::RpcOptions ro;
    ro.url = "http://127.0.0.1:" + std::to_string(pool.rpc_port());
    ro.timeout = std::chrono::seconds(60);
    return monero_wallet(std::make_shared<chain::monero::RpcClient>(ro));
  }
  void mine(int blocks) {
    node.rpc("generateblocks", {{"amount_of_blocks", blocks}, {"wallet_address", test::kMoneroTestAddress}});
    pool.rpc("refresh");
    miner.rpc("refresh");
  }
  // The miner wallet's incoming transfers (confirmed and in the pool).
  json incoming() const {
    miner.rpc("refresh");
    json r = miner.rpc("get_transfers", {{"in", true}, {"pool", true}});
    json all = json::array();
    for (const char* k : {"in", "pool"})
      if (r.contains(k))
        for (const auto& t : r[k]) all.push_back(t);
    return all;
  }
};

}  // namespace

TEST(MoneroPayouts, PaysOnceAndARestartBetweenRecordAndRelaySendsTheRecordedTransaction) {
  Fixture f;
  const int64_t first = 1'000'000'000'000, second = 250'000'000'000;
  f.db->credit_payable("monero", {{f.miner.address(), first}}, "test credit");
  PayoutOptions opts{"monero", 100'000'000'000};
  int64_t id1;
  {
    PayoutProcessor payouts(*f.db, f.wallet(), opts);
    auto id = payouts.run_once();
    ASSERT_TRUE(id);
    id1 = *id;
    auto p = f.db->payment(id1);
    ASSERT_EQ(p->state, store::PaymentState::broadcast) << p->reason;
    EXPECT_GT(p->fee, 0);
    f.mine(1);
    EXPECT_FALSE(payouts.run_once());
    EXPECT_EQ(f.db->payment(id1)->state, store::PaymentState::confirmed) << f.db->payment(id1)->reason;
  }

  // Second balance: the transfer is made and recorded, then the "processor" stops before relay_tx.
  f.db->credit_payable("monero", {{f.miner.address(), second}}, "test credit");
  int64_t id2 = f.db->create_payment("monero", {{f.miner.address(), f.miner.address(), second}});
  json t = f.pool.rpc("transfer", {{"destinations", json::array({{{"amount", second}, {"address", f.miner.address()}}})},
                                   {"do_not_relay", true},
                                   {"get_tx_metadata", true}});
  f.db->payment_signed(id2, t["tx_hash"], t["tx_metadata"], t["fee"].get<int64_t>());
  {
    PayoutProcessor restarted(*f.db, f.wallet(), opts);
    EXPECT_FALSE(restarted.run_once());
    EXPECT_EQ(f.db->payment(id2)->state, store::PaymentState::broadcast) << f.db->payment(id2)->reason;
  }
  PayoutProcessor third(*f.db, f.wallet(), opts);
  EXPECT_FALSE(third.run_once());  // already relayed: not again
  f.mine(1);
  EXPECT_FALSE(third.run_once());
  EXPECT_EQ(f.db->payment(id2)->state, store::PaymentState::confirmed) << f.db->payment(id2)->reason;

  json in = f.incoming();
  ASSERT_EQ(in.size(), 2u) << in.dump(1);
  std::multiset<int64_t> amounts;
  std::set<std::string> txids;
  for (const auto& x : in) amounts.insert(x["amount"].get<int64_t>()), txids.insert(x["txid"].get<std::string>());
  EXPECT_EQ(amounts, (std::multiset<int64_t>{first, second}));
  EXPECT_EQ(txids, (std::set<std::string>{f.db->payment(id1)->txid, f.db->payment(id2)->txid}));
  auto b = f.db->balance("monero", f.miner.address());
  EXPECT_EQ(b.paid, first + second);
  EXPECT_EQ(b.payable + b.reserved, 0);
}
