// The Bitcoin-family payout processor against litecoind's regtest wallet and a real SQLite
// store: a payable balance is paid exactly once and confirmed; a processor stopped between
// signing and broadcasting re-broadcasts the recorded transaction at its next start (still one
// transaction); a wallet without funds leaves the payment pending with the reason, and a
// restart gives the amounts back instead of paying them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/chain.h"
#include "pool/payout.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::pool;
using json = nlohmann::json;

namespace {

struct Fixture {
  test::Litecoind ltc{[] {
    test::LitecoindOptions o;
    o.mweb = false;
    return o;
  }()};
  test::TempDir dir;
  std::shared_ptr<store::Store> db;
  std::string miner;  // an address of the "miner" wallet (not the pool's)

  Fixture() {
    ltc.cli({"createwallet", "pool"});
    ltc.cli({"createwallet", "miner"});
    std::string pool_addr = ltc.cli({"-rpcwallet=pool", "getnewaddress", "", "bech32"});
    miner = ltc.cli({"-rpcwallet=miner", "getnewaddress", "", "bech32"});
    ltc.cli({"generatetoaddress", "101", pool_addr});  // one mature coinbase for the pool wallet
    store::Options o;
    o.path = (dir.path() / "otedama.db").string();
    db = std::shared_ptr<store::Store>(store::open(o));
  }

  std::shared_ptr<chain::RpcClient> wallet(const std::string& name) const {
    chain::RpcOptions ro;
    ro.url = ltc.wallet_url(name);
    ro.cookie_file = ltc.cookie_path();
    ro.timeout = std::chrono::seconds(30);
    return std::make_shared<chain::RpcClient>(ro);
  }
  PayoutOptions options() const { return {"litecoin", 1'000'000}; }
  int64_t received(int minconf = 0) const {
    return parse_coins(std::stod(ltc.cli({"-rpcwallet=miner", "getreceivedbyaddress", miner, std::to_string(minconf)})));
  }
  size_t miner_receipts() const {
    json list = json::parse(ltc.cli({"-rpcwallet=miner", "listtransactions", "*", "100"}));
    size_t n = 0;
    for (const auto& t : list)
      if (t.value("category", "") == "receive") ++n;
    return n;
  }
};

}  // namespace

TEST(BitcoinPayouts, PaysAPayableBalanceExactlyOnceAndConfirmsIt) {
  Fixture f;
  const int64_t amount = 123'456'789;
  f.db->credit_payable("litecoin", {{f.miner, amount}, {"tiny", 999}}, "test credit");  // tiny: under the minimum
  {
    PayoutProcessor payouts(*f.db, bitcoin_wallet(f.wallet("pool")), f.options());
    auto id = payouts.run_once();
    ASSERT_TRUE(id);
    auto p = f.db->payment(*id);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->state, store::PaymentState::broadcast) << p->reason;
    ASSERT_EQ(p->outputs.size(), 1u);
    EXPECT_EQ(p->outputs[0].amount, amount);
    EXPECT_GT(p->fee, 0);
    EXPECT_EQ(p->txid.size(), 64u);
    EXPECT_EQ(f.received(), amount);
    EXPECT_EQ(f.db->balance("litecoin", f.miner).reserved, amount);
    EXPECT_FALSE(payouts.run_once());  // nothing payable left: no second payment
    f.ltc.cli({"generatetoaddress", "1", f.ltc.cli({"-rpcwallet=pool", "getnewaddress"})});
    EXPECT_FALSE(payouts.run_once());
    EXPECT_EQ(f.db->payment(*id)->state, store::PaymentState::confirmed);
  }
  // A restarted processor finds nothing to redo.
  PayoutProcessor again(*f.db, bitcoin_wallet(f.wallet("pool")), f.options());
  EXPECT_FALSE(again.run_once());
  EXPECT_TRUE(again.reconciled());
  EXPECT_EQ(f.received(1), amount);
  EXPECT_EQ(f.miner_receipts(), 1u);
  auto b = f.db->balance("litecoin", f.miner);
  EXPECT_EQ(b.paid, amount);
  EXPECT_EQ(b.payable, 0);
  EXPECT_EQ(b.reserved, 0);
  EXPECT_EQ(f.db->balance("litecoin", "tiny").payable, 999);
  EXPECT_EQ(f.db->payments("litecoin", std::nullopt).size(), 1u);
}

TEST(BitcoinPayouts, StoppedBetweenSignAndBroadcastSendsTheRecordedTransactionOnce) {
  Fixture f;
  const int64_t amount = 50'000'000;
  f.db->credit_payable("litecoin", {{f.miner, amount}}, "test credit");
  // What a processor did before it was killed: intent recorded, transaction built, signed and
  // recorded, never broadcast.
  int64_t id = f.db->create_payment("litecoin", {{f.miner, f.miner, amount}});
  std::string raw = f.ltc.cli({"createrawtransaction", "[]", json{{f.miner, format_coins(amount)}}.dump()});
  json funded = json::parse(f.ltc.cli({"-rpcwallet=pool", "fundrawtransaction", raw}));
  json signed_tx = json::parse(f.ltc.cli({"-rpcwallet=pool", "signrawtransactionwithwallet", funded["hex"]}));
  ASSERT_TRUE(signed_tx["complete"].get<bool>());
  std::string txid = json::parse(f.ltc.cli({"decoderawtransaction", signed_tx["hex"]}))["txid"];
  f.db->payment_signed(id, txid, signed_tx["hex"], parse_coins(funded["fee"].get<double>()));
  EXPECT_EQ(f.received(), 0);

  {
    PayoutProcessor restarted(*f.db, bitcoin_wallet(f.wallet("pool")), f.options());
    EXPECT_FALSE(restarted.run_once());  // reconciles; nothing new to pay
    auto p = f.db->payment(id);
    EXPECT_EQ(p->state, store::PaymentState::broadcast) << p->reason;
    EXPECT_EQ(p->txid, txid);
  }
  EXPECT_EQ(f.received(), amount);
  // Another restart (broadcast, not yet confirmed) must not send it again either.
  PayoutProcessor third(*f.db, bitcoin_wallet(f.wallet("pool")), f.options());
  EXPECT_FALSE(third.run_once());
  f.ltc.cli({"generatetoaddress", "1", f.ltc.cli({"-rpcwallet=pool", "getnewaddress"})});
  EXPECT_FALSE(third.run_once());
  EXPECT_EQ(f.db->payment(id)->state, store::PaymentState::confirmed);
  EXPECT_EQ(f.received(1), amount);
  EXPECT_EQ(f.miner_receipts(), 1u);
  json tx = json::parse(f.ltc.cli({"-rpcwallet=miner", "listtransactions", "*", "100"}));
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(tx[0]["txid"], txid);
}

TEST(BitcoinPayouts, AnEmptyWalletLeavesThePaymentPendingWithTheReasonAndARestartRefundsIt) {
  Fixture f;
  f.ltc.cli({"createwallet", "empty"});
  const int64_t amount = 20'000'000;
  f.db->credit_payable("litecoin", {{f.miner, amount}}, "test credit");
  int64_t id;
  {
    PayoutProcessor payouts(*f.db, bitcoin_wallet(f.wallet("empty")), f.options());
    auto created = payouts.run_once();
    ASSERT_TRUE(created);
    id = *created;
    auto p = f.db->payment(id);
    EXPECT_EQ(p->state, store::PaymentState::intended);
    EXPECT_NE(p->reason.find("insufficient funds"), std::string::npos) << p->reason;
    EXPECT_TRUE(p->txid.empty());
    EXPECT_EQ(f.db->balance("litecoin", f.miner).reserved, amount);
    EXPECT_EQ(f.db->balance("litecoin", f.miner).paid, 0);
    EXPECT_FALSE(payouts.run_once());  // retried, still short: no second payment on top
    EXPECT_EQ(f.db->payments("litecoin", std::nullopt).size(), 1u);
  }
  // A wallet that is not there at all: nothing is reconciled or sent.
  {
    PayoutProcessor missing(*f.db, bitcoin_wallet(f.wallet("nosuchwallet")), f.options());
    EXPECT_FALSE(missing.run_once());
    EXPECT_FALSE(missing.reconciled());
    EXPECT_EQ(f.db->payment(id)->state, store::PaymentState::intended);
  }
  // Restarted on the funded wallet: the unsigned intent fails (amounts payable again) and a
  // new payment pays the balance once.
  PayoutProcessor funded(*f.db, bitcoin_wallet(f.wallet("pool")), f.options());
  auto second = funded.run_once();
  ASSERT_TRUE(second);
  EXPECT_EQ(f.db->payment(id)->state, store::PaymentState::failed);
  EXPECT_EQ(f.db->payment(*second)->state, store::PaymentState::broadcast) << f.db->payment(*second)->reason;
  EXPECT_EQ(f.received(), amount);
  EXPECT_EQ(f.miner_receipts(), 1u);
}
