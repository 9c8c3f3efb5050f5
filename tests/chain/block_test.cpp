// Block building without a daemon: BIP34 heights, the coinbase and its Stratum split, merkle
// trees, headers (against tests/vectors/sha256d.json and scrypt.json), templates and blocks.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chain/chain.h"
#include "crypto/scrypt.h"
#include "crypto/sha256.h"

using namespace otedama;
using namespace otedama::chain;
using nlohmann::json;

namespace {

json load(const std::string& name) {
  std::ifstream in(std::string(OTEDAMA_VECTORS_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  return json::parse(in);
}

Hash256 h2(const Hash256& a, const Hash256& b) {
  Bytes buf(a.begin(), a.end());
  buf.insert(buf.end(), b.begin(), b.end());
  return crypto::sha256d(buf);
}

Hash256 leaf(int i) {
  Bytes b{uint8_t(i), 0x42};
  return crypto::sha256d(b);
}

const char* kCommitment = "6a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9";

// A small template in getblocktemplate's JSON form.
json sample_gbt(int n_txs, bool mweb) {
  json t = {{"version", 536870912},
            {"previousblockhash", "7ea7d858a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a0fd6"},
            {"transactions", json::array()},
            {"coinbasevalue", 5000000000ll},
            {"longpollid", "7ea7d858...2"},
            {"target", "7fffff0000000000000000000000000000000000000000000000000000000000"},
            {"mintime", 1795644974},
            {"mutable", {"time", "transactions", "prevblock"}},
            {"curtime", 1795644980},
            {"bits", "207fffff"},
            {"height", 601},
            {"rules", {"csv", "!segwit", "taproot"}},
            {"default_witness_commitment", kCommitment}};
  for (int i = 0; i < n_txs; ++i) {
    Bytes data(60, uint8_t(i + 1));
    data[0] = 2;  // looks like a version-2 tx; content is opaque to the builder
    Hash256 txid = crypto::sha256d(data);
    t["transactions"].push_back({{"data", to_hex(data)}, {"txid", display_hex(txid)}, {"hash", display_hex(txid)},
                                 {"fee", 1000 + i}, {"weight", 240}});
  }
  if (mweb) t["mweb"] = "0102030405";
  return t;
}

}  // namespace

TEST(Script, Bip34HeightEncoding) {
  auto hex = [](int64_t n) { return to_hex(script_number(n)); };
  EXPECT_EQ(hex(0), "00");
  EXPECT_EQ(hex(1), "51");   // OP_1, not a push
  EXPECT_EQ(hex(16), "60");  // OP_16
  EXPECT_EQ(hex(17), "0111");
  EXPECT_EQ(hex(102), "0166");
  EXPECT_EQ(hex(127), "017f");
  EXPECT_EQ(hex(128), "028000");  // sign bit: extra zero byte
  EXPECT_EQ(hex(255), "02ff00");
  EXPECT_EQ(hex(256), "020001");
  EXPECT_EQ(hex(432), "02b001");
  EXPECT_EQ(hex(500), "02f401");
  EXPECT_EQ(hex(601), "025902");
  EXPECT_EQ(hex(32767), "02ff7f");
  EXPECT_EQ(hex(32768), "03008000");
  EXPECT_EQ(hex(840000), "0340d10c");    // a 2024 bitcoin height
  EXPECT_EQ(hex(8388608), "0400008000");
  EXPECT_EQ(hex(2147483647), "04ffffff7f");
  EXPECT_THROW(script_number(-1), std::invalid_argument);
}

TEST(Script, VarintsAndPushes) {
  auto v = [](uint64_t n) {
    Bytes b;
    append_varint(b, n);
    return to_hex(b);
  };
  EXPECT_EQ(v(0), "00");
  EXPECT_EQ(v(252), "fc");
  EXPECT_EQ(v(253), "fdfd00");
  EXPECT_EQ(v(5001), "fd8913");
  EXPECT_EQ(v(0x10000), "fe00000100");
  EXPECT_EQ(v(0x100000000ull), "ff0000000001000000");
  Bytes p;
  append_push(p, Bytes(75, 1));
  EXPECT_EQ(p[0], 75);
  p.clear();
  append_push(p, Bytes(76, 1));
  EXPECT_EQ(to_hex(ByteSpan(p.data(), 2)), "4c4c");
  p.clear();
  append_push(p, Bytes(300, 1));
  EXPECT_EQ(to_hex(ByteSpan(p.data(), 3)), "4d2c01");
}

TEST(Coinbase, MatchesTheVerifiedPythonReference) {
  // ltc_regtest_block.py build_coinbase() for height 601, value 5000012345, the bech32 payout
  // rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we, tag "/otedama/", extranonce 0a0b0c0d|0102030405060708.
  CoinbaseOptions o;
  o.outputs = {{5000012345, address_to_script("rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we",
                                              coin_params(Coin::litecoin, Network::regtest))}};
  o.tag = to_bytes("/otedama/");
  Coinbase cb = build_coinbase(601, 5000012345, from_hex(kCommitment), o);
  Bytes en1 = from_hex("0a0b0c0d"), en2 = from_hex("0102030405060708");
  const std::string legacy =
      "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1a0259020c0a0b0c0d01020304050607"
      "08092f6f746564616d612fffffffff023922062a01000000160014ff0500f14c5c65420ee06698971daed01fc4a72100000000000000002"
      "66a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf900000000";
  const std::string segwit =
      "010000000001010000000000000000000000000000000000000000000000000000000000000000ffffffff1a0259020c0a0b0c0d01020304"
      "05060708092f6f746564616d612fffffffff023922062a01000000160014ff0500f14c5c65420ee06698971daed01fc4a721000000000"
      "0000000266a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9012000000000000000000000000"
      "0000000000000000000000000000000000000000000000000";
  Bytes tx = cb.assemble(en1, en2);
  EXPECT_EQ(to_hex(tx), legacy);
  EXPECT_EQ(to_hex(coinbase_with_witness(tx)), segwit);
  // The Stratum split: coinb1 ends right before extranonce1, coinb2 starts right after extranonce2.
  EXPECT_EQ(to_hex(cb.coinb1), legacy.substr(0, legacy.find("0a0b0c0d")));
  EXPECT_EQ(to_hex(cb.coinb2), legacy.substr(legacy.find("0102030405060708") + 16));
  EXPECT_EQ(cb.txid(en1, en2), crypto::sha256d(tx));
  EXPECT_THROW(cb.assemble(en2, en1), std::invalid_argument);
}

TEST(Coinbase, SplitReassemblesForAnyExtranonce) {
  CoinbaseOptions o;
  o.outputs = {{100, from_hex("76a914" + std::string(40, '1') + "88ac")}, {200, from_hex("a914" + std::string(40, '2') + "87")}};
  o.extranonce1_size = 8;
  o.extranonce2_size = 4;
  Coinbase cb = build_coinbase(17, 300, std::nullopt, o);
  Bytes en1(8, 0xee), en2(4, 0x77);
  Bytes tx = cb.assemble(en1, en2);
  EXPECT_EQ(tx.size(), cb.coinb1.size() + 12 + cb.coinb2.size());
  // version 1, one null input, scriptSig = 01 11 | 0c <12 bytes>, sequence, 2 outputs, locktime 0
  EXPECT_EQ(to_hex(ByteSpan(tx.data(), 5)), "0100000001");
  EXPECT_EQ(to_hex(ByteSpan(tx.data() + 37, 4)), "ffffffff");
  EXPECT_EQ(tx[41], 15);  // script length
  EXPECT_EQ(to_hex(ByteSpan(tx.data() + 42, 3)), "01110c");
  EXPECT_EQ(to_hex(ByteSpan(tx.data() + 57, 4)), "ffffffff");
  EXPECT_EQ(tx[61], 2);
  EXPECT_EQ(to_hex(ByteSpan(tx.data() + tx.size() - 4, 4)), "00000000");
  // Height 1..16 is one byte; the scriptSig is still >= 2 bytes with empty extranonces.
  CoinbaseOptions tiny = o;
  tiny.extranonce1_size = 0;
  tiny.extranonce2_size = 0;
  Coinbase c1 = build_coinbase(1, 300, std::nullopt, tiny);
  EXPECT_EQ(to_hex(c1.assemble({}, {})).substr(82, 6), "025100");
}

TEST(Coinbase, RefusesWhatConsensusRejects) {
  CoinbaseOptions o;
  o.outputs = {{50, Bytes{0x51}}};
  o.tag = Bytes(90, 'x');  // 3 + 1 + 12 + 2 + 90 > 100
  EXPECT_THROW(build_coinbase(601, 100, std::nullopt, o), std::invalid_argument);
  o.tag = Bytes(82, 'x');  // exactly 100
  EXPECT_NO_THROW(build_coinbase(601, 100, std::nullopt, o));
  o.tag.clear();
  o.outputs = {{60, Bytes{0x51}}, {41, Bytes{0x51}}};
  try {
    build_coinbase(601, 100, std::nullopt, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("pay more"), std::string::npos);
  }
  o.outputs = {{-1, Bytes{0x51}}};
  EXPECT_THROW(build_coinbase(601, 100, std::nullopt, o), std::invalid_argument);
  o.outputs = {{1, Bytes{0x51}}};
  o.extranonce2_size = 33;
  EXPECT_THROW(build_coinbase(601, 100, std::nullopt, o), std::invalid_argument);
}

TEST(Coinbase, FiveThousandOutputsFastAndExact) {
  const int n = 5000;
  CoinbaseOptions o;
  o.tag = to_bytes("/p2p/");
  int64_t total = 0;
  for (int i = 0; i < n; ++i) {
    Bytes script{0x00, 0x14};
    for (int k = 0; k < 20; ++k) script.push_back(uint8_t(i * 7 + k));
    o.outputs.push_back({1000 + i, std::move(script)});
    total += 1000 + i;
  }
  auto t0 = std::chrono::steady_clock::now();
  Coinbase cb = build_coinbase(700000, total + 5, from_hex(kCommitment), o);
  Bytes en1(4, 1), en2(8, 2);
  Bytes tx = cb.assemble(en1, en2);
  Hash256 txid = cb.txid(en1, en2);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 100.0) << "5,000-output coinbase took " << ms << " ms";
  EXPECT_EQ(txid, crypto::sha256d(tx));
  // Walk the serialization: 5,000 payouts + the witness commitment.
  size_t pos = 4 + 1 + 36;
  size_t script_len = tx[pos];
  pos += 1 + script_len + 4;
  ASSERT_EQ(to_hex(ByteSpan(tx.data() + pos, 3)), "fd8913");  // 5001
  pos += 3;
  for (int i = 0; i < n; ++i) {
    uint64_t value = 0;
    for (int k = 0; k < 8; ++k) value |= uint64_t(tx[pos + k]) << (8 * k);
    ASSERT_EQ(value, uint64_t(1000 + i));
    ASSERT_EQ(tx[pos + 8], 22);
    ASSERT_EQ(Bytes(tx.begin() + pos + 9, tx.begin() + pos + 31), o.outputs[i].script);
    pos += 31;
  }
  EXPECT_EQ(to_hex(ByteSpan(tx.data() + pos, 9)), "000000000000000026");
  pos += 9;
  EXPECT_EQ(to_hex(ByteSpan(tx.data() + pos, 38)), kCommitment);
  pos += 38;
  EXPECT_EQ(pos + 4, tx.size());
}

TEST(Merkle, HandComputedTrees) {
  Hash256 a = leaf(0), b = leaf(1), c = leaf(2), d = leaf(3), e = leaf(4), f = leaf(5), g = leaf(6);
  // 1 tx: the root is the coinbase txid; no branch.
  EXPECT_EQ(merkle_root(std::vector<Hash256>{a}), a);
  EXPECT_TRUE(merkle_branch(std::vector<Hash256>{}).empty());
  // 2
  EXPECT_EQ(merkle_root(std::vector<Hash256>{a, b}), h2(a, b));
  EXPECT_EQ(merkle_branch(std::vector<Hash256>{b}), (std::vector<Hash256>{b}));
  // 3: the last is paired with itself
  Hash256 r3 = h2(h2(a, b), h2(c, c));
  EXPECT_EQ(merkle_root(std::vector<Hash256>{a, b, c}), r3);
  EXPECT_EQ(merkle_branch(std::vector<Hash256>{b, c}), (std::vector<Hash256>{b, h2(c, c)}));
  // 4
  Hash256 r4 = h2(h2(a, b), h2(c, d));
  EXPECT_EQ(merkle_root(std::vector<Hash256>{a, b, c, d}), r4);
  EXPECT_EQ(merkle_branch(std::vector<Hash256>{b, c, d}), (std::vector<Hash256>{b, h2(c, d)}));
  // 7
  Hash256 r7 = h2(h2(h2(a, b), h2(c, d)), h2(h2(e, f), h2(g, g)));
  EXPECT_EQ(merkle_root(std::vector<Hash256>{a, b, c, d, e, f, g}), r7);
  std::vector<Hash256> br7 = merkle_branch(std::vector<Hash256>{b, c, d, e, f, g});
  EXPECT_EQ(br7, (std::vector<Hash256>{b, h2(c, d), h2(h2(e, f), h2(g, g))}));
  EXPECT_EQ(merkle_root_from_branch(a, br7), r7);
  // Every size up to 40: the branch reproduces the root.
  for (int n = 1; n <= 40; ++n) {
    std::vector<Hash256> all;
    for (int i = 0; i < n; ++i) all.push_back(leaf(i));
    auto br = merkle_branch(std::span<const Hash256>(all).subspan(1));
    EXPECT_EQ(merkle_root_from_branch(all[0], br), merkle_root(all)) << n;
  }
  EXPECT_THROW(merkle_root(std::vector<Hash256>{}), std::invalid_argument);
}

TEST(Merkle, BitcoinBlock100000) {
  // Block 100000: four txs, merkle root f3e94742...5766 (display order).
  std::vector<Hash256> txids = {
      hash_from_display("8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87"),
      hash_from_display("fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4"),
      hash_from_display("6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4"),
      hash_from_display("e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d")};
  EXPECT_EQ(display_hex(merkle_root(txids)), "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766");
}

TEST(Header, Sha256dVectorsFromFields) {
  json v = load("sha256d.json");
  ASSERT_GE(v["block_headers"].size(), 4u);
  for (const auto& e : v["block_headers"]) {
    SCOPED_TRACE(e["name"].get<std::string>());
    BlockHeader h;
    h.version = int32_t(e["version"].get<int64_t>());
    h.prev_hash = hash_from_display(e["prev_block_hash_display"].get<std::string>());
    h.merkle_root = hash_from_display(e["merkle_root_display"].get<std::string>());
    h.time = e["time"];
    h.bits = uint32_t(std::stoul(e["bits_hex"].get<std::string>(), nullptr, 16));
    h.nonce = e["nonce"];
    Header80 bytes = h.serialize();
    EXPECT_EQ(to_hex(bytes), e["header_hex"].get<std::string>());
    EXPECT_EQ(to_hex(block_hash(bytes)), e["sha256d_raw_digest_hex"].get<std::string>());
    EXPECT_EQ(display_hex(block_hash(bytes)), e["block_hash_display_hex"].get<std::string>());
    EXPECT_EQ(U256::from_compact(h.bits).to_hex(), e["target_from_bits_display_hex"].get<std::string>());
    BlockHeader back = BlockHeader::parse(bytes);
    EXPECT_EQ(back.serialize(), bytes);
    EXPECT_EQ(back.nonce, h.nonce);
  }
  EXPECT_THROW(BlockHeader::parse(Bytes(79)), std::invalid_argument);
}

TEST(Header, ScryptVectors) {
  json v = load("scrypt.json");
  ASSERT_GE(v["mining_headers_N1024_r1_p1"].size(), 4u);
  for (const auto& e : v["mining_headers_N1024_r1_p1"]) {
    SCOPED_TRACE(e["name"].get<std::string>());
    Bytes raw = from_hex(e["header_hex"].get<std::string>());
    BlockHeader h = BlockHeader::parse(raw);
    Header80 bytes = h.serialize();
    EXPECT_EQ(to_hex(bytes), e["header_hex"].get<std::string>());
    EXPECT_EQ(to_hex(crypto::scrypt_1024_1_1(bytes)), e["pow_hash_raw_hex"].get<std::string>());
    EXPECT_EQ(display_hex(block_hash(bytes)), e["block_hash_display_hex"].get<std::string>());
    EXPECT_EQ(h.bits, uint32_t(std::stoul(e["bits_hex"].get<std::string>(), nullptr, 16)));
  }
  // Litecoin genesis from its chainparams fields: CreateGenesisBlock(1317972665, 2084524493,
  // 0x1e0ffff0, 1, 50 * COIN), merkle root 97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9.
  BlockHeader g;
  g.version = 1;
  g.merkle_root = hash_from_display("97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9");
  g.time = 1317972665;
  g.bits = 0x1e0ffff0;
  g.nonce = 2084524493;
  const auto& genesis = v["mining_headers_N1024_r1_p1"][0];
  ASSERT_EQ(genesis["name"], "litecoin-genesis");
  EXPECT_EQ(to_hex(g.serialize()), genesis["header_hex"].get<std::string>());
  U256 pow = U256::from_le_bytes(crypto::scrypt_1024_1_1(g.serialize()).data());
  EXPECT_LE(pow, U256::from_compact(g.bits));
}

TEST(Template, ParsesGetBlockTemplate) {
  BlockTemplate t = parse_block_template(sample_gbt(3, true));
  EXPECT_EQ(t.version, 536870912);
  EXPECT_EQ(display_hex(t.prev_hash), "7ea7d858a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a0fd6");
  EXPECT_EQ(t.bits, 0x207fffffu);
  EXPECT_EQ(t.target.to_hex(), "7fffff0000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(t.height, 601u);
  EXPECT_EQ(t.coinbase_value, 5000000000ll);
  EXPECT_EQ(t.curtime, 1795644980u);
  EXPECT_EQ(t.mintime, 1795644974u);
  ASSERT_EQ(t.transactions.size(), 3u);
  EXPECT_EQ(t.transactions[2].fee, 1002);
  EXPECT_EQ(t.transactions[0].txid, crypto::sha256d(t.transactions[0].data));
  EXPECT_EQ(to_hex(*t.witness_commitment), kCommitment);
  EXPECT_EQ(to_hex(*t.mweb), "0102030405");
  EXPECT_EQ(t.longpollid, "7ea7d858...2");
  EXPECT_EQ(t.mutable_fields.size(), 3u);
  EXPECT_FALSE(parse_block_template(sample_gbt(0, false)).mweb);
}

TEST(Template, RefusesMalformed) {
  auto why = [](json j) -> std::string {
    try {
      parse_block_template(j);
      return "<accepted>";
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  };
  json j = sample_gbt(2, false);
  j.erase("height");
  EXPECT_NE(why(j).find("\"height\" is missing"), std::string::npos) << why(j);
  j = sample_gbt(2, false);
  j["bits"] = "zz7fffff";
  EXPECT_NE(why(j).find("\"bits\""), std::string::npos);
  j = sample_gbt(2, false);
  j["target"] = "00ffff0000000000000000000000000000000000000000000000000000000000";
  EXPECT_NE(why(j).find("does not match bits"), std::string::npos);
  j = sample_gbt(2, false);
  j["coinbasevalue"] = -5;
  EXPECT_NE(why(j).find("coinbasevalue"), std::string::npos);
  j = sample_gbt(2, false);
  j["transactions"][1]["txid"] = "abc";
  EXPECT_NE(why(j).find("transactions[1]"), std::string::npos) << why(j);
  j = sample_gbt(2, false);
  j["transactions"][0]["data"] = "0g";
  EXPECT_NE(why(j).find("transactions[0]"), std::string::npos) << why(j);
  j = sample_gbt(2, false);
  j["default_witness_commitment"] = "6a0401020304";
  EXPECT_NE(why(j).find("default_witness_commitment"), std::string::npos);
  j = sample_gbt(2, false);
  j["previousblockhash"] = 7;
  EXPECT_NE(why(j).find("previousblockhash"), std::string::npos);
  EXPECT_NE(why(json::array()).find("not a JSON object"), std::string::npos);
}

TEST(Job, HeaderAndBlockFromParts) {
  BlockTemplate t = parse_block_template(sample_gbt(3, true));
  CoinbaseOptions o;
  o.outputs = {{t.coinbase_value, from_hex("0014ff0500f14c5c65420ee06698971daed01fc4a721")}};
  o.tag = to_bytes("/otedama/");
  Job job = make_job(t, o);
  EXPECT_EQ(job.ntime, 1795644980u);
  EXPECT_EQ(job.merkle_branch.size(), 2u);
  Bytes en1 = from_hex("00000001"), en2 = from_hex("0000000000000009");
  const int32_t rolled = t.version | 0x1fffe000;
  Header80 header = job_header(job, en1, en2, 1795645000, 0xdeadbeef, rolled);
  // Independently: root over all txids, header from fields.
  Bytes cb = job.coinbase.assemble(en1, en2);
  std::vector<Hash256> all{crypto::sha256d(cb)};
  for (const auto& tx : t.transactions) all.push_back(tx.txid);
  BlockHeader h;
  h.version = rolled;
  h.prev_hash = t.prev_hash;
  h.merkle_root = merkle_root(all);
  h.time = 1795645000;
  h.bits = t.bits;
  h.nonce = 0xdeadbeef;
  EXPECT_EQ(header, h.serialize());
  EXPECT_EQ(to_hex(ByteSpan(header.data() + 76, 4)), "efbeadde");

  Bytes block = serialize_block(t, header, cb);
  Bytes expect(header.begin(), header.end());
  expect.push_back(4);
  expect.insert(expect.end(), cb.begin(), cb.end());
  for (const auto& tx : t.transactions) expect.insert(expect.end(), tx.data.begin(), tx.data.end());
  expect.push_back(0x01);
  expect.insert(expect.end(), t.mweb->begin(), t.mweb->end());
  EXPECT_EQ(block, expect);
  // Without MWEB nothing follows the transactions.
  BlockTemplate plain = parse_block_template(sample_gbt(0, false));
  Bytes b2 = serialize_block(plain, header, cb);
  EXPECT_EQ(b2.size(), 80 + 1 + cb.size());
  EXPECT_EQ(b2[80], 1);
}
