// Accounting end to end on litecoind regtest: `otedama serve` (scrypt pool, PPLNT, SQLite store)
// with two `otedama mine` miners one after the other. Every accepted share is in the store; each
// found block credited the window's miners exactly as accounting::pplns computes it over the
// stored shares; a block invalidated on litecoind is orphaned and its credits reversed; 100
// confirmations later the other blocks' credits are payable and the payout processor pays
// each miner's address through the pool's wallet exactly once; the API shows blocks, balances
// and payments from the store.
#include <gtest/gtest.h>

#include <regex>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "accounting/accounting.h"
#include "http/http.h"
#include "store/store.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
using json = nlohmann::json;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Ports {
  uint16_t stratum = free_port(), api = free_port(), health = free_port(), metrics = free_port();
};

std::string node_config(const Ports& n, const Litecoind& ltc, const std::string& payout, const TempDir& dir) {
  return "app: {name: \"acct\", mode: development, data_dir: \"" + (dir.path() / "data").string() + "\"}\n"
         "logging: {level: debug}\n"
         "mining: {enable_cpu: false}\n"
         "pool:\n"
         "  coin: litecoin\n"
         "  fee_percentage: 1.5\n"
         "  rewards: {system: PPLNS, window: 2h}\n"
         "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
         "  payout_address: \"" + payout + "\"\n"
         "  daemon: {url: \"" + ltc.rpc_url() + "\", cookie_file: \"" + ltc.cookie_path() + "\"}\n"
         "  difficulty: {initial: 0.01, min: 0.0001, target_share_time: 2s}\n"
         "  payouts: {enabled: true, interval: 1s, minimum: 0.001, wallet: pool}\n"
         "api: {address: \"127.0.0.1:" + std::to_string(n.api) + "\", rate_limit: {enabled: false}}\n"
         "monitoring:\n"
         "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
         "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n";
}

json api(const Ports& n, const std::string& path) {
  return json::parse(http::get("http://127.0.0.1:" + std::to_string(n.api) + path, std::chrono::seconds(5)).body);
}

int64_t satoshis(const std::string& coins) { return int64_t(std::llround(std::stod(coins) * 1e8)); }

}  // namespace

TEST(AccountingE2E, SharesBlocksPplnsCreditsMaturityAndOnePayoutPerMiner) {
  LitecoindOptions o;
  o.mweb = false;
  Litecoind ltc(o);
  ltc.cli({"createwallet", "pool"});
  ltc.cli({"createwallet", "miners"});
  std::string payout = ltc.cli({"-rpcwallet=pool", "getnewaddress", "", "bech32"});
  std::string alice = ltc.cli({"-rpcwallet=miners", "getnewaddress", "", "bech32"});
  std::string bob = ltc.cli({"-rpcwallet=miners", "getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", payout});  // leave initial block download
  TempDir dir;
  Ports n;
  Process node({kBin, "serve", "--config", dir.file("node.yaml", node_config(n, ltc, payout, dir))}, dir.path());
  ASSERT_TRUE(eventually(
      [&] {
        try {
          return http::get("http://127.0.0.1:" + std::to_string(n.health) + "/ready", std::chrono::seconds(1)).status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(30)))
      << node.err();

  // Alice mines 2 blocks' worth, then Bob 2 more: Bob's blocks pay both of them (PPLNT 2h).
  for (const std::string& who : {alice, bob}) {
    int start = std::stoi(ltc.cli({"getblockcount"}));
    Process miner({kBin, "mine", "--url", "stratum+tcp://127.0.0.1:" + std::to_string(n.stratum), "--user",
                   who + ".rig", "--algo", "scrypt", "--threads", "1"},
                  dir.path());
    bool rose = eventually([&] { return std::stoi(ltc.cli({"getblockcount"})) >= start + 2; }, std::chrono::seconds(60));
    miner.signal(SIGTERM);
    miner.wait(std::chrono::seconds(10));
    ASSERT_TRUE(rose) << node.err() << miner.err();
  }
  // The found blocks are in the API from the store, pending.
  ASSERT_TRUE(eventually([&] { return api(n, "/api/blocks")["total"].get<int>() >= 4; }, std::chrono::seconds(10)));
  json blocks = api(n, "/api/blocks?limit=100");
  EXPECT_EQ(blocks["blocks"][0]["coin"], "litecoin");

  // The newest pool block leaves the chain (invalidateblock): the poller orphans it, reversing its credits.
  std::string orphan = ltc.cli({"getbestblockhash"});
  ltc.cli({"invalidateblock", orphan});
  ASSERT_TRUE(eventually(
      [&] {
        json page = api(n, "/api/blocks?limit=100");
        for (const auto& b : page["blocks"])
          if (b["hash"] == orphan) return b["status"] == "orphaned";
        return false;
      },
      std::chrono::seconds(15)))
      << orphan << "\n" << api(n, "/api/blocks?limit=100").dump(1) << node.err().substr(node.err().size() > 6000 ? node.err().size() - 6000 : 0);

  // Maturity: 100 blocks on top; the poller confirms, the payout processor pays both miners.
  ltc.cli({"generatetoaddress", "100", payout});
  ASSERT_TRUE(eventually(
      [&] {
        return satoshis(ltc.cli({"-rpcwallet=miners", "getreceivedbyaddress", alice, "0"})) > 0 &&
               satoshis(ltc.cli({"-rpcwallet=miners", "getreceivedbyaddress", bob, "0"})) > 0;
      },
      std::chrono::seconds(30)))
      << node.err();
  ltc.cli({"generatetoaddress", "1", payout});  // confirms the payment
  ASSERT_TRUE(eventually(
      [&] {
        json p = api(n, "/api/payments?address=" + alice);
        return p["total"].get<int>() == 1;
      },
      std::chrono::seconds(15)));
  json miner = api(n, "/api/miners/" + bob);
  EXPECT_GT(miner["paid"].get<double>() + miner["balance"].get<double>(), 0) << miner.dump();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // more payout intervals: nothing is paid twice
  // Payout and database figures on /metrics (what deploy/monitoring's alerts read).
  std::string metrics = http::get("http://127.0.0.1:" + std::to_string(n.metrics) + "/metrics").body;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics, m, std::regex(R"(otedama_payouts_last_success_timestamp_seconds\{coin="litecoin"\} ([0-9.e+]+))")))
      << metrics;
  EXPECT_GT(std::stod(m[1]), 1.7e9);  // a unix time
  ASSERT_TRUE(std::regex_search(metrics, m, std::regex(R"(otedama_store_durable_shares ([0-9.e+]+))")));
  EXPECT_GT(std::stod(m[1]), 0);
  EXPECT_NE(metrics.find("otedama_payouts_pending_amount{coin=\"litecoin\"}"), std::string::npos);
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(15)), 0) << node.err();

  // ---- the store, read back after the node stopped -----------------------------------------
  store::Options so;
  so.path = (dir.path() / "data" / "otedama.db").string();
  auto db = store::open(so);
  auto shares = db->shares("litecoin", 0, 1'000'000);
  ASSERT_FALSE(shares.empty());
  for (const auto& s : shares) {
    EXPECT_TRUE(s.share.account == alice || s.share.account == bob) << s.share.account;
    EXPECT_EQ(s.share.worker, "rig");
  }
  // Blocks in the order they were found; each matches the k-th block-candidate share.
  auto stored = db->blocks("litecoin", std::nullopt, 1000);
  std::reverse(stored.begin(), stored.end());
  std::vector<size_t> candidates;
  for (size_t i = 0; i < shares.size(); ++i)
    if (shares[i].share.block_candidate) candidates.push_back(i);
  ASSERT_EQ(candidates.size(), stored.size());
  ASSERT_GE(stored.size(), 4u);
  auto fee = accounting::fee_from_percentage(1.5);
  std::map<std::string, int64_t> expected;
  int confirmed = 0;
  for (size_t k = 0; k < stored.size(); ++k) {
    const auto& b = stored[k];
    EXPECT_TRUE(b.credited);
    EXPECT_EQ(b.reward, 5'000'000'000);  // regtest subsidy, no fees
    if (b.status == store::BlockStatus::orphaned) continue;  // a second block at the same height
    confirmed += b.status == store::BlockStatus::confirmed;
    std::vector<accounting::Share> window;
    for (size_t i = 0; i <= candidates[k]; ++i)
      window.push_back({shares[i].share.account, accounting::work_from_difficulty(shares[i].share.difficulty / 65536),
                        shares[i].share.time_ms});
    accounting::WindowSpec spec;
    spec.duration = std::chrono::hours(2);
    for (const auto& c : accounting::pplns(window, spec, b.reward, fee, b.time_ms).credits) expected[c.account] += c.amount;
  }
  EXPECT_GE(confirmed, 3);
  auto gone = db->block("litecoin", orphan);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, store::BlockStatus::orphaned);
  ASSERT_EQ(expected.size(), 2u);
  for (const auto& [account, amount] : expected) {
    auto bal = db->balance("litecoin", account);
    EXPECT_EQ(bal.pending + bal.payable + bal.reserved + bal.paid, amount) << account;
    EXPECT_GT(bal.paid, 0) << account;
    // Paid exactly once: the wallet received what the store says was paid, in one transaction.
    EXPECT_EQ(satoshis(ltc.cli({"-rpcwallet=miners", "getreceivedbyaddress", account, "0"})), bal.paid) << account;
  }
  json txs = json::parse(ltc.cli({"-rpcwallet=miners", "listtransactions", "*", "100"}));
  std::set<std::string> txids;
  for (const auto& t : txs) txids.insert(t["txid"].get<std::string>());
  EXPECT_EQ(txids.size(), 1u) << txs.dump(1);  // one batched payout paid both
  auto payments = db->payments("litecoin", std::nullopt);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].state, store::PaymentState::confirmed);
  EXPECT_EQ(payments[0].outputs.size(), 2u);
}
