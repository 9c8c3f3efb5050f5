// The chain module against a real litecoind regtest pair (tests/support/litecoind.h):
// templates through our RPC client, our coinbase/merkle/header/block, a scrypt grind, and
// submitblock accepted; the block read back from the daemon equals what we built, byte for
// byte. MWEB off and MWEB active (first MWEB block at 432 with a peg-in), and the error paths.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "chain/chain.h"
#include "crypto/scrypt.h"
#include "support/litecoind.h"

using namespace otedama;
using namespace otedama::chain;
using otedama::test::Litecoind;
using otedama::test::LitecoindOptions;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const CoinParams& regtest() { return coin_params(Coin::litecoin, Network::regtest); }

RpcClient client(const Litecoind& node) {
  RpcOptions o;
  o.url = node.rpc_url();
  o.cookie_file = node.cookie_path();
  o.timeout = 30s;
  return RpcClient(o);
}

struct Built {
  BlockTemplate tpl;
  Job job;
  Bytes en1, en2, coinbase;
  Header80 header{};
  Bytes block;       // what was submitted
  Bytes block_full;  // with the coinbase witness, as the daemon stores it
};

// Builds a block from `tpl` paying `script`, grinds the nonce with scrypt, serializes it.
Built build_and_grind(const BlockTemplate& tpl, const Bytes& script, bool coinbase_witness, uint32_t first_nonce = 0) {
  Built b;
  b.tpl = tpl;
  CoinbaseOptions o;
  o.outputs = {{tpl.coinbase_value, script}};
  o.tag = to_bytes("/otedama-it/");
  b.job = make_job(tpl, o);
  b.en1 = from_hex("0badcafe");
  b.en2 = from_hex("0000000000000001");
  for (uint32_t nonce = first_nonce;; ++nonce) {
    b.header = job_header(b.job, b.en1, b.en2, b.job.ntime, nonce, b.job.version);
    if (U256::from_le_bytes(crypto::scrypt_1024_1_1(b.header).data()) <= tpl.target) break;
    if (nonce - first_nonce > 1000) throw std::runtime_error("no nonce found in 1000 tries at a regtest target");
  }
  b.coinbase = b.job.coinbase.assemble(b.en1, b.en2);
  Bytes cb_witness = coinbase_with_witness(b.coinbase);
  b.block = serialize_block(tpl, b.header, coinbase_witness ? cb_witness : b.coinbase);
  b.block_full = serialize_block(tpl, b.header, tpl.witness_commitment ? cb_witness : b.coinbase);
  return b;
}

// The template once it holds at least `min_txs` transactions (GBT caches the mempool for 5 s).
BlockTemplate template_with(RpcClient& rpc, size_t min_txs) {
  auto end = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    BlockTemplate t = rpc.get_block_template(regtest().gbt_rules);
    if (t.transactions.size() >= min_txs) return t;
    if (std::chrono::steady_clock::now() > end) throw std::runtime_error("mempool txs never reached the template");
    std::this_thread::sleep_for(500ms);
  }
}

// Submits and checks everything the daemon can tell about the block.
void submit_and_verify(RpcClient& rpc, const Built& b, const std::string& address) {
  const uint64_t before = rpc.get_block_count();
  auto rejected = rpc.submit_block(b.block);
  ASSERT_FALSE(rejected) << "submitblock: " << *rejected;
  EXPECT_EQ(rpc.get_block_count(), before + 1);
  const Hash256 hash = block_hash(b.header);
  EXPECT_EQ(rpc.get_best_block_hash(), hash);

  // Byte for byte, as the daemon stores it.
  EXPECT_EQ(to_hex(rpc.get_block_raw(hash)), to_hex(b.block_full));

  json blk = rpc.get_block(hash, 2);
  EXPECT_EQ(blk["height"].get<uint32_t>(), b.tpl.height);
  EXPECT_EQ(blk["merkleroot"].get<std::string>(), display_hex(BlockHeader::parse(b.header).merkle_root));
  ASSERT_EQ(blk["tx"].size(), 1 + b.tpl.transactions.size());
  const json& cb = blk["tx"][0];
  EXPECT_EQ(cb["txid"].get<std::string>(), display_hex(b.job.coinbase.txid(b.en1, b.en2)));
  const json& out = cb["vout"][0];
  EXPECT_EQ(out["scriptPubKey"]["hex"].get<std::string>(), to_hex(address_to_script(address, regtest())));
  const json& spk = out["scriptPubKey"];
  std::string paid = spk.contains("address") ? spk["address"].get<std::string>() : spk["addresses"][0].get<std::string>();
  EXPECT_EQ(paid, address);
  EXPECT_EQ(std::llround(out["value"].get<double>() * 1e8), b.tpl.coinbase_value);
  for (size_t i = 0; i < b.tpl.transactions.size(); ++i)
    EXPECT_EQ(blk["tx"][i + 1]["txid"].get<std::string>(), display_hex(b.tpl.transactions[i].txid));
}

}  // namespace

TEST(LitecoindIT, BlocksWithMwebOff) {
  LitecoindOptions options;
  options.mweb = false;
  options.blocknotify = "/bin/sh -c 'echo %s >> notified.txt'";
  Litecoind node(options);
  node.cli({"createwallet", "pool"});
  RpcClient rpc = client(node);
  EXPECT_EQ(network_from_chain(rpc.get_blockchain_info().chain), Network::regtest);

  const std::string legacy = node.cli({"getnewaddress", "", "legacy"});
  const std::string p2sh = node.cli({"getnewaddress", "", "p2sh-segwit"});
  const std::string bech32 = node.cli({"getnewaddress", "", "bech32"});
  for (const auto& a : {legacy, p2sh, bech32}) {
    // Our decoder and the daemon's agree on the script.
    AddressCheck check = rpc.validate_address(a);
    EXPECT_TRUE(check.valid) << a;
    EXPECT_EQ(check.script_pubkey, address_to_script(a, regtest())) << a;
  }
  node.cli({"generatetoaddress", "101", bech32});  // leaves IBD; coins to spend mature

  // (1) empty template, legacy payout, coinbase without witness (the daemon adds it).
  {
    BlockTemplate tpl = rpc.get_block_template(regtest().gbt_rules);
    EXPECT_EQ(tpl.height, 102u);
    EXPECT_FALSE(tpl.mweb);
    EXPECT_TRUE(tpl.witness_commitment);
    Built b = build_and_grind(tpl, address_to_script(legacy, regtest()), false);
    EXPECT_TRUE(b.job.merkle_branch.empty());
    submit_and_verify(rpc, b, legacy);
    // The same block again: "duplicate".
    EXPECT_EQ(rpc.submit_block(b.block).value_or("accepted"), "duplicate");
  }

  // (2) mempool transactions, p2sh-segwit payout, coinbase with witness.
  {
    node.cli({"sendtoaddress", legacy, "1.5"});
    node.cli({"sendtoaddress", p2sh, "2.25"});
    BlockTemplate tpl = template_with(rpc, 2);
    EXPECT_EQ(tpl.height, 103u);
    EXPECT_GT(tpl.coinbase_value, 5000000000ll);  // fees
    Built b = build_and_grind(tpl, address_to_script(p2sh, regtest()), true);
    EXPECT_EQ(b.job.merkle_branch.size(), 2u);
    EXPECT_EQ(BlockHeader::parse(b.header).merkle_root,
              merkle_root([&] {
                std::vector<Hash256> all{b.job.coinbase.txid(b.en1, b.en2)};
                for (const auto& t : tpl.txids()) all.push_back(t);
                return all;
              }()));
    submit_and_verify(rpc, b, p2sh);
  }

  // (3) three mempool txs (odd tree), bech32 payout.
  {
    for (const char* amount : {"0.1", "0.2", "0.3"}) node.cli({"sendtoaddress", bech32, amount});
    BlockTemplate tpl = template_with(rpc, 3);
    Built b = build_and_grind(tpl, address_to_script(bech32, regtest()), false);
    submit_and_verify(rpc, b, bech32);
  }

  // Long poll: returns when a block arrives from elsewhere.
  {
    BlockTemplate tpl = rpc.get_block_template(regtest().gbt_rules);
    ASSERT_FALSE(tpl.longpollid.empty());
    auto started = std::chrono::steady_clock::now();
    auto poll = std::async(std::launch::async, [&] { return rpc.get_block_template(regtest().gbt_rules, tpl.longpollid); });
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(poll.wait_for(0ms), std::future_status::timeout);  // still waiting
    // Ordinary calls are not blocked by the long poll.
    EXPECT_EQ(rpc.get_block_count(), 104u);
    std::string hash = node.cli({"generatetoaddress", "1", legacy});
    BlockTemplate next = poll.get();
    EXPECT_EQ(next.height, tpl.height + 1);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  }

  // -blocknotify ran for every tip, our submitted blocks included (it runs asynchronously).
  const std::string tip = display_hex(rpc.get_best_block_hash());
  std::string notified;
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(50ms)) {
    notified = test::read_file(node.temp_dir() / "notified.txt");
    if (notified.find(tip) != std::string::npos) break;
  }
  EXPECT_NE(notified.find(tip), std::string::npos);
  EXPECT_EQ(std::count(notified.begin(), notified.end(), '\n'), 105);
}

TEST(LitecoindIT, FirstMwebBlockAndAfter) {
  Litecoind node;  // MWEB activates at 432 as on a default regtest chain
  node.cli({"createwallet", "pool"});
  RpcClient rpc = client(node);
  const std::string bech32 = node.cli({"getnewaddress", "", "bech32"});
  node.cli({"generatetoaddress", "431", bech32});
  // The first MWEB block needs a peg-in in the mempool (real-nodes.md §1.5).
  const std::string mweb_addr = node.cli({"getnewaddress", "", "mweb"});
  EXPECT_NE(address_error(mweb_addr, regtest()).value_or("").find("MWEB"), std::string::npos);
  node.cli({"sendtoaddress", mweb_addr, "1"});

  BlockTemplate tpl = template_with(rpc, 2);  // the peg-in tx and the HogEx
  EXPECT_EQ(tpl.height, 432u);
  ASSERT_TRUE(tpl.mweb) << "no mweb field at 432";
  EXPECT_NE(std::find(tpl.rules.begin(), tpl.rules.end(), "mweb"), tpl.rules.end());
  // The HogEx is last: version 2, then the 00 marker and MWEB flag 08.
  EXPECT_EQ(to_hex(ByteSpan(tpl.transactions.back().data.data(), 6)), "020000000008");
  Built b = build_and_grind(tpl, address_to_script(bech32, regtest()), false);
  EXPECT_EQ(b.block.size(), b.block_full.size() - 36);  // only the coinbase witness differs
  EXPECT_EQ(b.block[b.block.size() - tpl.mweb->size() - 1], 0x01);
  submit_and_verify(rpc, b, bech32);
  EXPECT_TRUE(rpc.get_block(block_hash(b.header), 2).contains("mweb"));

  // 433: an MWEB block with no peg-in (empty extension block, HogEx only).
  BlockTemplate next = rpc.get_block_template(regtest().gbt_rules);
  EXPECT_EQ(next.height, 433u);
  ASSERT_TRUE(next.mweb);
  Built b2 = build_and_grind(next, address_to_script(bech32, regtest()), true);
  submit_and_verify(rpc, b2, bech32);
}

TEST(LitecoindIT, ErrorPaths) {
  LitecoindOptions options;
  options.mweb = false;
  Litecoind node(options);
  RpcClient rpc = client(node);

  // Before the first block the daemon refuses templates (IBD): an RPC error, with its code.
  try {
    rpc.get_block_template(regtest().gbt_rules);
    ADD_FAILURE() << "template during IBD";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code, -10) << e.what();
  }
  node.cli({"generatetoaddress", "1", "rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we"});

  // Rules litecoind does not accept: -8 with its message.
  try {
    rpc.get_block_template({"segwit"});
    ADD_FAILURE() << "segwit-only rules accepted";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code, -8);
    EXPECT_NE(e.message.find("mweb"), std::string::npos) << e.message;
  }

  // Wrong password.
  {
    RpcOptions o;
    o.url = node.rpc_url();
    o.user = "__cookie__";
    o.password = "wrong";
    RpcClient bad(o);
    try {
      bad.get_block_count();
      ADD_FAILURE() << "wrong password accepted";
    } catch (const AuthError& e) {
      EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
    }
  }

  // A garbage payout address: a clear error from us, and the daemon agrees it is invalid.
  try {
    address_to_script("rltc1-not-an-address", regtest());
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
  }
  EXPECT_FALSE(rpc.validate_address("rltc1-not-an-address").valid);

  // Bad blocks: the daemon's reason string, or its decode error.
  BlockTemplate tpl = rpc.get_block_template(regtest().gbt_rules);
  Bytes script = address_to_script("rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we", regtest());
  {
    CoinbaseOptions o;
    o.outputs = {{tpl.coinbase_value, script}};
    Job job = make_job(tpl, o);
    Bytes en1(4, 0), en2(8, 0);
    Header80 h{};
    for (uint32_t nonce = 0;; ++nonce) {  // a nonce that does NOT meet the target
      h = job_header(job, en1, en2, job.ntime, nonce, job.version);
      if (U256::from_le_bytes(crypto::scrypt_1024_1_1(h).data()) > tpl.target) break;
    }
    auto r = rpc.submit_block(serialize_block(tpl, h, job.coinbase.assemble(en1, en2)));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "high-hash");
    // Paying more than the template allows.
    // Paying one satoshi more than the template allows (the builder refuses that, so build
    // from a template that claims a higher value).
    BlockTemplate greedy = tpl;
    greedy.coinbase_value += 1;
    CoinbaseOptions o2;
    o2.outputs = {{greedy.coinbase_value, script}};
    Job j2 = make_job(greedy, o2);
    for (uint32_t nonce = 0;; ++nonce) {
      h = job_header(j2, en1, en2, j2.ntime, nonce, j2.version);
      if (U256::from_le_bytes(crypto::scrypt_1024_1_1(h).data()) <= tpl.target) break;
    }
    r = rpc.submit_block(serialize_block(greedy, h, j2.coinbase.assemble(en1, en2)));
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("cb-amount"), std::string::npos) << *r;
  }
  try {
    rpc.submit_block(from_hex("00"));
    ADD_FAILURE() << "garbage block accepted";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code, -22);
    EXPECT_NE(e.message.find("decode"), std::string::npos) << e.message;
  }
  EXPECT_EQ(rpc.get_block_count(), 1u);

  // The daemon goes away: a transport error, quickly, and no crash; calls keep failing cleanly.
  node.stop_pool_node();
  for (int i = 0; i < 2; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      rpc.get_block_count();
      ADD_FAILURE() << "answer from a stopped daemon";
    } catch (const TransportError& e) {
      EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  }
}
