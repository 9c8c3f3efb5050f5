// Unit tests of the Monero part of the chain module: varints, Monero Base58 (vectors from
// Monero's tests/unit_tests/base58.cpp), addresses, tree_hash, block blobs (a template recorded
// from monerod 0.18 regtest), work with an extra nonce, PoW checks and Stratum targets.
#include <gtest/gtest.h>

#include <random>

#include "chain/chain.h"
#include "crypto/keccak.h"

namespace otedama::chain::monero {
namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// ---- varints -----------------------------------------------------------------------------------

TEST(MoneroVarint, KnownEncodings) {
  EXPECT_EQ(to_hex(varint(0)), "00");
  EXPECT_EQ(to_hex(varint(1)), "01");
  EXPECT_EQ(to_hex(varint(127)), "7f");
  EXPECT_EQ(to_hex(varint(128)), "8001");
  EXPECT_EQ(to_hex(varint(300)), "ac02");
  EXPECT_EQ(to_hex(varint(16384)), "808001");
  EXPECT_EQ(to_hex(varint(35184338534400ull)), "808080f0ffff07");  // the height-1 coinbase amount below
  EXPECT_EQ(to_hex(varint(~0ull)), "ffffffffffffffffff01");
}

TEST(MoneroVarint, RoundTripsAndAdvances) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    Bytes b = varint(v);
    b.push_back(0xaa);  // the reader must stop at the varint's end
    size_t pos = 0;
    EXPECT_EQ(read_varint(b, pos), v);
    EXPECT_EQ(pos, b.size() - 1);
  }
}

TEST(MoneroVarint, RefusesBadEncodings) {
  size_t pos = 0;
  EXPECT_THROW(read_varint(Bytes{}, pos), std::invalid_argument);
  pos = 0;
  EXPECT_THROW(read_varint(Bytes{0x80}, pos), std::invalid_argument);  // truncated
  pos = 0;
  EXPECT_THROW(read_varint(Bytes{0x80, 0x00}, pos), std::invalid_argument);  // non-canonical
  pos = 0;
  EXPECT_THROW(read_varint(from_hex("ffffffffffffffffff02"), pos), std::invalid_argument);  // > 64 bits
  pos = 0;
  EXPECT_THROW(read_varint(from_hex("ffffffffffffffffff8101"), pos), std::invalid_argument);
}

// ---- Base58 (Monero's block-wise variant) ----------------------------------------------------------

TEST(MoneroBase58, BlockVectorsFromMonero) {
  const std::pair<const char*, const char*> v[] = {
      {"00", "11"},          {"39", "1z"},           {"ff", "5Q"},
      {"0000", "111"},       {"0039", "11z"},        {"0100", "15R"},
      {"ffff", "LUv"},       {"000000", "11111"},    {"000039", "1111z"},
      {"010000", "11LUw"},   {"ffffff", "2UzHL"},    {"00000039", "11111z"},
      {"ffffffff", "7YXq9G"}, {"0000000039", "111111z"}, {"ffffffffff", "VtB5VXc"},
      {"000000000039", "11111111z"}, {"ffffffffffff", "3CUsUpv9t"}, {"00000000000039", "111111111z"},
      {"ffffffffffffff", "Ahg1opVcGW"}, {"0000000000000039", "1111111111z"},
      {"ffffffffffffffff", "jpXCZedGfVQ"}, {"0000000000000000", "11111111111"},
      {"0000000000000001", "11111111112"}, {"0000000000000008", "11111111119"},
      {"0000000000000009", "1111111111A"}, {"000000000000003a", "11111111121"},
      {"00ffffffffffffff", "1Ahg1opVcGW"}, {"06156013762879f7", "22222222222"},
      {"05e022ba374b2a00", "1z111111111"},
      {"06156013762879f7ffffffffff", "22222222222VtB5VXc"},
      {"00000000000000000000000000000000", "1111111111111111111111"},
      {"", ""},
  };
  for (auto [hex, enc] : v) {
    EXPECT_EQ(base58_encode(from_hex(hex)), enc) << hex;
    EXPECT_EQ(to_hex(base58_decode(enc)), hex) << enc;
  }
  EXPECT_EQ(to_hex(base58_decode("jpXCZedGfVQjpXCZedGfVQ")), std::string(32, 'f'));
}

TEST(MoneroBase58, RefusesWhatMoneroRefuses) {
  for (const char* bad : {"1", "z", "1111", "zzzz", "11111111", "123456789AB1", "123456789AB1111",  // lengths
                          "5R", "zz", "LUw", "zzz", "2UzHM", "7YXq9H", "VtB5VXd", "3CUsUpv9u", "Ahg1opVcGX",
                          "jpXCZedGfVR", "zzzzzzzzzzz", "123456789AB5R", "zzzzzzzzzzz11",  // overflows
                          "10", "11I", "11O11", "11l111", "11_11111111", "1101111111111", "01111111111"})  // characters
    EXPECT_THROW(base58_decode(bad), std::invalid_argument) << bad;
}

TEST(MoneroBase58, RoundTripsRandomData) {
  std::mt19937 rng(11);
  for (size_t n = 0; n < 80; ++n) {
    Bytes b(n);
    for (auto& x : b) x = uint8_t(rng());
    EXPECT_EQ(base58_decode(base58_encode(b)), b);
  }
}

// base58::encode_addr from Monero: varint tag || data || keccak(...)[0..4]
std::string encode_addr(uint64_t tag, ByteSpan data) {
  Bytes buf = varint(tag);
  buf.insert(buf.end(), data.begin(), data.end());
  Hash256 h = crypto::keccak256(buf);
  buf.insert(buf.end(), h.begin(), h.begin() + 4);
  return base58_encode(buf);
}

TEST(MoneroBase58, AddressEncodingVectorsFromMonero) {
  EXPECT_EQ(encode_addr(6, Bytes(64, 0)),
            "21D35quxec71111111111111111111111111111111111111111111111111111111111111111111111111111116Q5tCH");
  EXPECT_EQ(encode_addr(6, Bytes(64, 0xff)),
            "2Aui6ejTFscjpXCZedGfVQjpXCZedGfVQjpXCZedGfVQjpXCZedGfVQjpXCZedGfVQjpXCZedGfVQjpXCZedGfVQVqegMoV");
  EXPECT_EQ(encode_addr(0x1122334455667788ull, Bytes(64, 0)),
            "PuT7GAdgbA83qvSEivPLYo11111111111111111111111111111111111111111111111111111111111111111111111111111169tWrH");
  EXPECT_EQ(encode_addr(0x1122334455667788ull, bytes_of("\x11")), "PuT7GAdgbA819VwdWVDP");
  EXPECT_EQ(encode_addr(0x1122334455667788ull, Bytes(9, 0x99)), "PuT7GAdgbA83wk3FD1gW7J2KVGofA1r");
  EXPECT_EQ(encode_addr(0, Bytes{}), "15p2yAV");
  EXPECT_EQ(encode_addr(0x7f, Bytes{}), "FNQ3D6A");
  EXPECT_EQ(encode_addr(0x80, Bytes{}), "26k9QWweu");
  EXPECT_EQ(encode_addr(0xff, Bytes{}), "3BzAD7n3y");
  EXPECT_EQ(encode_addr(6, from_hex("11223344556677")), "21rhHRT48LN4PriP9");
}

// ---- addresses --------------------------------------------------------------------------------

// Monero's unit-test keys and the address they make (tests/unit_tests/base58.cpp).
constexpr const char* kTestAddress =
    "4AzKEX4gXdJdNeM6dfiBFL7kqund3HYGvMBF3ttsNd9SfzgYB6L7ep1Yg1osYJzLdaKAYSLVh6e6jKnAuzj3bw1oGy9kXCb";
constexpr const char* kTestSpend = "f724bc5c6cfbb9d97602c300423a2f28641874513a035778a0c1778d833201e9";
constexpr const char* kTestView = "220939689edf1abd5bc1d031f73ecd6c993add66d6808870456afeb8e7eeb68d";
// The Monero General Fund's donation address (accepted by monerod as a wallet_address here).
constexpr const char* kGeneralFund =
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

MoneroAddress test_keys(NetType net, AddressKind kind) {
  MoneroAddress a;
  a.net = net;
  a.kind = kind;
  a.spend_public_key = hash_from_hex(kTestSpend);
  a.view_public_key = hash_from_hex(kTestView);
  if (kind == AddressKind::integrated) a.payment_id = std::array<uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8};
  return a;
}

TEST(MoneroAddress, DecodesMoneroTestVector) {
  MoneroAddress a = decode_address(kTestAddress, NetType::mainnet);
  EXPECT_EQ(a.kind, AddressKind::standard);
  EXPECT_EQ(to_hex(a.spend_public_key), kTestSpend);
  EXPECT_EQ(to_hex(a.view_public_key), kTestView);
  EXPECT_FALSE(a.payment_id);
  EXPECT_EQ(encode_address(a), kTestAddress);
  EXPECT_EQ(encode_address(test_keys(NetType::mainnet, AddressKind::standard)), kTestAddress);
  EXPECT_EQ(encode_address(decode_address(kGeneralFund)), kGeneralFund);
  EXPECT_EQ(check_mining_address(kGeneralFund, NetType::mainnet).kind, AddressKind::standard);
  EXPECT_FALSE(mining_address_error(kTestAddress, NetType::mainnet));
}

TEST(MoneroAddress, PrefixesAndLeadingCharacters) {
  // Every network and kind round-trips.
  const std::tuple<NetType, AddressKind, uint64_t, char> cases[] = {
      {NetType::mainnet, AddressKind::standard, 18, '4'},   {NetType::mainnet, AddressKind::integrated, 19, '4'},
      {NetType::mainnet, AddressKind::subaddress, 42, '8'}, {NetType::testnet, AddressKind::standard, 53, 'A'},
      {NetType::testnet, AddressKind::integrated, 54, 'A'}, {NetType::testnet, AddressKind::subaddress, 63, 'B'},
      {NetType::stagenet, AddressKind::standard, 24, '5'},  {NetType::stagenet, AddressKind::integrated, 25, '5'},
      {NetType::stagenet, AddressKind::subaddress, 36, '7'}};
  for (auto [net, kind, prefix, first] : cases) {
    MoneroAddress a = test_keys(net, kind);
    std::string s = encode_address(a);
    // The leading character also depends on the keys' first bytes; mainnet's are fixed (4 / 8).
    if (net == NetType::mainnet) {
      EXPECT_EQ(s[0], first) << s;
    }
    EXPECT_EQ(s.size(), kind == AddressKind::integrated ? 106u : 95u);
    // The prefix really is the varint in front (independent of decode_address).
    Bytes raw = base58_decode(s);
    size_t pos = 0;
    EXPECT_EQ(read_varint(raw, pos), prefix);
    MoneroAddress b = decode_address(s, net);
    EXPECT_EQ(b.kind, kind);
    EXPECT_EQ(b.spend_public_key, a.spend_public_key);
    EXPECT_EQ(b.payment_id, a.payment_id);
  }
}

TEST(MoneroAddress, RefusesWithClearReasons) {
  auto error_of = [](std::string_view s, NetType net = NetType::mainnet) {
    auto e = address_error(s, net);
    return e ? *e : std::string("(accepted)");
  };
  // Bad checksum: the same keys with the checksum's last byte changed.
  Bytes raw = base58_decode(kTestAddress);
  raw.back() ^= 1;
  EXPECT_NE(error_of(base58_encode(raw)).find("checksum"), std::string::npos);
  // A character outside the alphabet, and a length no Base58 string has.
  std::string s = kTestAddress;
  s[5] = '0';
  EXPECT_NE(error_of(s).find("character"), std::string::npos);
  EXPECT_NE(error_of(std::string(kTestAddress).substr(0, 92)).find("length"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  // Another network: named in the message.
  std::string testnet = encode_address(test_keys(NetType::testnet, AddressKind::standard));
  EXPECT_NE(error_of(testnet).find("testnet"), std::string::npos);
  EXPECT_NE(error_of(encode_address(test_keys(NetType::stagenet, AddressKind::subaddress))).find("stagenet"),
            std::string::npos);
  EXPECT_FALSE(address_error(testnet, NetType::testnet));
  // An unknown prefix (another CryptoNote coin) and a wrong key length.
  EXPECT_NE(error_of(encode_addr(0x1b, Bytes(64, 0x11))).find("prefix"), std::string::npos);
  Bytes keys(64);
  std::copy_n(from_hex(kTestSpend).begin(), 32, keys.begin());
  std::copy_n(from_hex(kTestView).begin(), 32, keys.begin() + 32);
  EXPECT_NE(error_of(encode_addr(18, ByteSpan(keys).first(63))).find("length"), std::string::npos);
  // Keys that are not curve points (Monero's own negative cases).
  Bytes bad_spend = keys;
  bad_spend[0] = 0;
  EXPECT_NE(error_of(encode_addr(18, bad_spend)).find("spend key"), std::string::npos);
  Bytes bad_view = keys;
  bad_view.back() = 0x01;
  EXPECT_NE(error_of(encode_addr(18, bad_view)).find("view key"), std::string::npos);
  EXPECT_FALSE(address_error(encode_addr(18, keys), NetType::mainnet));
}

TEST(MoneroAddress, MiningRefusesSubaddressAndIntegrated) {
  std::string sub = encode_address(test_keys(NetType::mainnet, AddressKind::subaddress));
  std::string integrated = encode_address(test_keys(NetType::mainnet, AddressKind::integrated));
  EXPECT_FALSE(address_error(sub, NetType::mainnet));  // a valid address ...
  auto e = mining_address_error(sub, NetType::mainnet);  // ... that cannot take the coinbase
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("subaddress"), std::string::npos);
  e = mining_address_error(integrated, NetType::mainnet);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("integrated"), std::string::npos);
  EXPECT_THROW(check_mining_address(sub, NetType::mainnet), std::invalid_argument);
  EXPECT_EQ(decode_address(integrated).payment_id, (std::array<uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8}));
  // Computed independently (Python, the reference script's keccak); monerod 0.18 accepts it as a
  // wallet_address (paying the standard address, dropping the payment id): we refuse on purpose.
  EXPECT_EQ(integrated,
            "4LgzFKtB8tpdNeM6dfiBFL7kqund3HYGvMBF3ttsNd9SfzgYB6L7ep1Yg1osYJzLdaKAYSLVh6e6jKnAuzj3bw1oQav4So25mMY1ytthNv");
}

TEST(MoneroAddress, PointCheck) {
  EXPECT_TRUE(is_valid_public_key(hash_from_hex("5866666666666666666666666666666666666666666666666666666666666666")));  // B
  EXPECT_TRUE(is_valid_public_key(hash_from_hex("0100000000000000000000000000000000000000000000000000000000000000")));  // identity
  EXPECT_FALSE(is_valid_public_key(hash_from_hex("0100000000000000000000000000000000000000000000000000000000000080")));  // x=0, sign set
  EXPECT_FALSE(is_valid_public_key(hash_from_hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")));  // y = p
  // About half of all y values decode; a run of random keys must hold both outcomes.
  std::mt19937 rng(3);
  int valid = 0;
  for (int i = 0; i < 200; ++i) {
    Hash256 k;
    for (auto& b : k) b = uint8_t(rng());
    valid += is_valid_public_key(k);
  }
  EXPECT_GT(valid, 60);
  EXPECT_LT(valid, 140);
  EXPECT_EQ(nettype_from_string("fakechain"), NetType::mainnet);
  EXPECT_EQ(nettype_from_string("stagenet"), NetType::stagenet);
  EXPECT_THROW(nettype_from_string("regtest-ish"), std::invalid_argument);
}

// ---- tree_hash --------------------------------------------------------------------------------

Hash256 H(const Hash256& a, const Hash256& b) {
  Bytes buf(a.begin(), a.end());
  buf.insert(buf.end(), b.begin(), b.end());
  return crypto::keccak256(buf);
}

// Independent formulation: a complete binary tree whose deepest level holds the LAST 2*(n - cnt)
// leaves; everything above it is a perfect tree, reduced here by recursive halving.
Hash256 perfect_root(std::span<const Hash256> v) {
  if (v.size() == 1) return v[0];
  return H(perfect_root(v.first(v.size() / 2)), perfect_root(v.subspan(v.size() / 2)));
}
Hash256 reference_tree_hash(std::span<const Hash256> leaves) {
  size_t n = leaves.size(), cnt = 1;
  while (cnt * 2 <= n) cnt *= 2;  // largest power of two <= n
  if (cnt == n) return perfect_root(leaves);
  std::vector<Hash256> upper(leaves.begin(), leaves.begin() + (2 * cnt - n));
  for (size_t i = 2 * cnt - n; i < n; i += 2) upper.push_back(H(leaves[i], leaves[i + 1]));
  return perfect_root(upper);
}

TEST(MoneroTreeHash, SmallTreesSpelledOut) {
  std::vector<Hash256> l(9);
  for (size_t i = 0; i < l.size(); ++i) l[i] = crypto::keccak256(Bytes{uint8_t(i)});
  auto [a, b, c, d, e, f, g, h, i] = std::array<Hash256, 9>{l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8]};
  EXPECT_EQ(tree_hash(std::span(l).first(1)), a);
  EXPECT_EQ(tree_hash(std::span(l).first(2)), H(a, b));
  EXPECT_EQ(tree_hash(std::span(l).first(3)), H(a, H(b, c)));
  EXPECT_EQ(tree_hash(std::span(l).first(4)), H(H(a, b), H(c, d)));
  EXPECT_EQ(tree_hash(std::span(l).first(5)), H(H(a, b), H(c, H(d, e))));
  EXPECT_EQ(tree_hash(std::span(l).first(8)), H(H(H(a, b), H(c, d)), H(H(e, f), H(g, h))));
  EXPECT_EQ(tree_hash(std::span(l).first(9)), H(H(H(a, b), H(c, d)), H(H(e, f), H(g, H(h, i)))));
  // Not the Bitcoin merkle shape (which would pair (a,b) and duplicate c for 3 leaves).
  EXPECT_NE(tree_hash(std::span(l).first(3)), H(H(a, b), H(c, c)));
  EXPECT_THROW(tree_hash(std::span<const Hash256>()), std::invalid_argument);
}

TEST(MoneroTreeHash, MatchesReferenceForManySizes) {
  std::vector<Hash256> l(70);
  for (size_t i = 0; i < l.size(); ++i) l[i] = crypto::keccak256(Bytes{uint8_t(i), 0x55});
  for (size_t n = 1; n <= l.size(); ++n)
    EXPECT_EQ(tree_hash(std::span(l).first(n)), reference_tree_hash(std::span(l).first(n))) << n << " leaves";
}

// ---- block blobs and templates ----------------------------------------------------------------------

// get_block_template {"wallet_address": kTestAddress, "reserve_size": 8} from monerod 0.18.0.0,
// --regtest --offline --fixed-difficulty 100, height 1 (recorded here).
const char* kTemplateJson = R"({
  "blockhashing_blob": "1010f3a09ed806418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e300000000c2cfc238da07203dde6e35b90766fb01f0e3be120a885619434a767e40d0bfc901",
  "blocktemplate_blob": "1010f3a09ed806418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e300000000023d01ff0101808080f0ffff0703c1f3e2eb6449d14ba0c30073169c7e750eae3acfc49f278a3266a8fa7bbc3768762b0176598f918acc2a2edd52a0e9e8635ee8400fcb75b3cee75e40cabc0d432cd64d020800000000000000000000",
  "difficulty": 100, "difficulty_top64": 0, "expected_reward": 35184338534400, "height": 1, "next_seed_hash": "",
  "prev_hash": "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3", "reserved_offset": 126,
  "seed_hash": "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3", "seed_height": 0,
  "status": "OK", "untrusted": false, "wide_difficulty": "0x64"})";

TEST(MoneroBlock, ParsesRecordedTemplate) {
  auto j = nlohmann::json::parse(kTemplateJson);
  Bytes blob = from_hex(j["blocktemplate_blob"].get<std::string>());
  BlockBlob b = parse_block_blob(blob);
  EXPECT_EQ(b.major_version, 16u);
  EXPECT_EQ(b.minor_version, 16u);
  EXPECT_EQ(b.nonce_offset, 39u);  // 1 + 1 + 5 varint bytes + 32
  EXPECT_EQ(b.header_size, 43u);
  EXPECT_EQ(to_hex(b.prev_id), j["prev_hash"]);
  EXPECT_EQ(b.miner_tx_version, 2u);
  EXPECT_EQ(b.unlock_time, 61u);  // height + 60
  EXPECT_EQ(b.height, 1u);
  ASSERT_EQ(b.outputs.size(), 1u);
  EXPECT_EQ(b.outputs[0].amount, j["expected_reward"].get<uint64_t>());
  ASSERT_TRUE(b.outputs[0].view_tag);  // type 03: tagged key
  EXPECT_EQ(*b.outputs[0].view_tag, 0x76);
  // extra: 01 <tx pubkey 32> 02 08 <8 reserved bytes>
  EXPECT_EQ(b.extra_size, 43u);
  EXPECT_EQ(blob[b.extra_offset], 0x01);
  EXPECT_EQ(blob[b.extra_offset + 33], 0x02);
  EXPECT_EQ(b.extra_offset + 35, j["reserved_offset"].get<size_t>());
  EXPECT_TRUE(b.tx_hashes.empty());
  EXPECT_EQ(b.miner_tx_end, blob.size() - 1);

  // The hashing blob, from the definition written out here: header || miner tx hash || 01.
  Hash256 prefix = crypto::keccak256(ByteSpan(blob).subspan(43, b.miner_tx_prefix_end - 43));
  Bytes parts(prefix.begin(), prefix.end());
  Hash256 base = crypto::keccak256(Bytes{0x00});
  parts.insert(parts.end(), base.begin(), base.end());
  parts.insert(parts.end(), 32, 0);
  Hash256 txid = crypto::keccak256(parts);
  EXPECT_EQ(miner_tx_hash(blob, b), txid);
  Bytes hb = hashing_blob(blob, b);
  EXPECT_EQ(to_hex(hb), j["blockhashing_blob"]);  // byte for byte what monerod sent

  BlockTemplate t = parse_block_template(j, 8);
  EXPECT_EQ(t.difficulty, U256::from_u64(100));
  EXPECT_EQ(t.height, 1u);
  EXPECT_EQ(t.reserved_offset, 126u);
  EXPECT_EQ(to_hex(t.seed_hash), "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3");
  EXPECT_FALSE(t.next_seed_hash);
  EXPECT_EQ(t.expected_reward, 35184338534400u);
}

TEST(MoneroBlock, WorkWithExtraNonceAndNonce) {
  BlockTemplate t = parse_block_template(nlohmann::json::parse(kTemplateJson), 8);
  BlockWork zero = make_work(t, {});
  EXPECT_EQ(zero.hashing_blob, t.hashing_blob);
  EXPECT_EQ(make_work(t, Bytes(8, 0)).hashing_blob, t.hashing_blob);

  Bytes en = from_hex("0102030405060708");
  BlockWork w = make_work(t, en);
  EXPECT_EQ(Bytes(w.block_blob.begin() + 126, w.block_blob.begin() + 134), en);
  EXPECT_EQ(w.block_blob.size(), t.blob.size());
  EXPECT_NE(w.hashing_blob, t.hashing_blob);  // the miner tx changed, so did the root
  EXPECT_EQ(Bytes(w.hashing_blob.begin(), w.hashing_blob.begin() + 43), Bytes(t.blob.begin(), t.blob.begin() + 43));
  EXPECT_EQ(w.hashing_blob, hashing_blob(w.block_blob, parse_block_blob(w.block_blob)));
  // Different extra nonces give different work (and ids).
  BlockWork w2 = make_work(t, from_hex("0102030405060709"));
  EXPECT_NE(w2.hashing_blob, w.hashing_blob);

  Bytes hb = w.hashing_blob_with_nonce(0x78563412);
  Bytes block = w.block_with_nonce(0x78563412);
  EXPECT_EQ(to_hex(ByteSpan(hb).subspan(39, 4)), "12345678");
  EXPECT_EQ(to_hex(ByteSpan(block).subspan(39, 4)), "12345678");
  BlockBlob parsed = parse_block_blob(block);
  EXPECT_EQ(parsed.nonce, 0x78563412u);
  EXPECT_EQ(hashing_blob(block, parsed), hb);
  EXPECT_EQ(block_id(block, parsed), block_id_from_hashing_blob(hb));
  Bytes id_input = varint(hb.size());
  id_input.insert(id_input.end(), hb.begin(), hb.end());
  EXPECT_EQ(block_id_from_hashing_blob(hb), crypto::keccak256(id_input));

  EXPECT_THROW(make_work(t, Bytes(9, 1)), std::invalid_argument);  // larger than the reserve
  Bytes tiny(3);
  EXPECT_THROW(set_nonce(tiny, 0, 1), std::invalid_argument);
  EXPECT_THROW(set_nonce(block, block.size() - 3, 1), std::invalid_argument);
}

TEST(MoneroBlock, NonceOffsetFollowsTheVarints) {
  // The same block with a 6-byte timestamp varint: the nonce moves to 40.
  Bytes blob = from_hex(nlohmann::json::parse(kTemplateJson)["blocktemplate_blob"].get<std::string>());
  Bytes b2 = {0x10, 0x10};
  append_varint(b2, 1ull << 40);
  b2.insert(b2.end(), blob.begin() + 7, blob.end());
  BlockBlob p = parse_block_blob(b2);
  EXPECT_EQ(p.timestamp, 1ull << 40);
  EXPECT_EQ(p.nonce_offset, 40u);
  EXPECT_EQ(p.header_size, 44u);
  EXPECT_EQ(p.height, 1u);
  // A 2-byte major version varint (as an unknown future fork might have) moves it as well.
  Bytes b3 = {0x90, 0x01};
  b3.insert(b3.end(), blob.begin() + 1, blob.end());
  EXPECT_EQ(parse_block_blob(b3).nonce_offset, 40u);
}

TEST(MoneroBlock, TxHashesAndOldOutputType) {
  Bytes blob = from_hex(nlohmann::json::parse(kTemplateJson)["blocktemplate_blob"].get<std::string>());
  // Two transactions after the miner tx: 3 leaves.
  Bytes with_txs(blob.begin(), blob.end() - 1);
  with_txs.push_back(2);
  Hash256 t1 = crypto::keccak256(bytes_of("tx1")), t2 = crypto::keccak256(bytes_of("tx2"));
  with_txs.insert(with_txs.end(), t1.begin(), t1.end());
  with_txs.insert(with_txs.end(), t2.begin(), t2.end());
  BlockBlob p = parse_block_blob(with_txs);
  ASSERT_EQ(p.tx_hashes.size(), 2u);
  EXPECT_EQ(p.tx_hashes[1], t2);
  Bytes hb = hashing_blob(with_txs, p);
  Hash256 m = miner_tx_hash(with_txs, p);
  Bytes want(with_txs.begin(), with_txs.begin() + 43);
  Hash256 root = H(m, H(t1, t2));
  want.insert(want.end(), root.begin(), root.end());
  want.push_back(3);
  EXPECT_EQ(hb, want);

  // A pre-HF15 output (type 02, no view tag) parses too.
  size_t out_type = 43 + 1 + 1 + 1 + 1 + 1 + 1 + 7;  // version, unlock, vin count, ff, height, vout count, amount
  ASSERT_EQ(blob[out_type], 0x03);
  Bytes old(blob.begin(), blob.end());
  old[out_type] = 0x02;
  old.erase(old.begin() + out_type + 33);  // drop the view tag
  BlockBlob q = parse_block_blob(old);
  ASSERT_EQ(q.outputs.size(), 1u);
  EXPECT_FALSE(q.outputs[0].view_tag);
  EXPECT_EQ(q.outputs[0].key, p.outputs[0].key);
}

TEST(MoneroBlock, RefusesMalformedBlobs) {
  Bytes blob = from_hex(nlohmann::json::parse(kTemplateJson)["blocktemplate_blob"].get<std::string>());
  auto refuses = [](Bytes b, const char* what) {
    try {
      parse_block_blob(b);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  for (size_t cut : {0, 1, 20, 40, 45, 60, 100, 130})
    refuses(Bytes(blob.begin(), blob.begin() + cut), "truncated");
  Bytes b = blob;
  b.push_back(0);
  refuses(b, "trailing");
  b = blob;
  b[46] = 0xfe;  // input type
  refuses(b, "txin_gen");
  b = blob;
  b[56] = 0x04;  // output target type
  refuses(b, "target type");
  b = blob;
  b[b.size() - 2] = 0x01;  // rct type
  refuses(b, "rct type");
  b = blob;
  b.back() = 5;  // 5 tx hashes that are not there
  refuses(b, "do not fit");
}

TEST(MoneroBlock, TemplateChecks) {
  auto j = nlohmann::json::parse(kTemplateJson);
  auto refuses = [](const nlohmann::json& j, size_t reserve, const char* what) {
    try {
      parse_block_template(j, reserve);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  EXPECT_NO_THROW(parse_block_template(j, 8));
  EXPECT_NO_THROW(parse_block_template(j, 0));
  refuses(j, 9, "reserved area");  // would run past the extra field
  auto k = j;
  k.erase("seed_hash");
  refuses(k, 8, "seed_hash");
  k = j;
  k["height"] = 2;
  refuses(k, 8, "height");
  k = j;
  k["blockhashing_blob"] = "00";
  refuses(k, 8, "hashing blob");
  k = j;
  k["prev_hash"] = "zz";
  refuses(k, 8, "prev_hash");
  k = j;
  k["wide_difficulty"] = "0x";
  refuses(k, 8, "wide_difficulty");
  k = j;
  std::string blob = k["blocktemplate_blob"];
  blob[blob.size() - 6] = '1';  // the reserved area's last byte (before rct type and tx count)
  k["blocktemplate_blob"] = blob;
  refuses(k, 8, "not zero");
  k = j;
  k["next_seed_hash"] = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3";
  k["wide_difficulty"] = "0x10000000000000001";  // above 64 bits
  BlockTemplate t = parse_block_template(k, 8);
  ASSERT_TRUE(t.next_seed_hash);
  EXPECT_EQ(t.difficulty, U256::from_hex("10000000000000001"));
}

TEST(MoneroBlock, Block202612Exception) {
  // Only a block whose whole blob hashes to the historical value gets the historical id; any
  // other block at that height keeps its computed id.
  Bytes blob = from_hex(nlohmann::json::parse(kTemplateJson)["blocktemplate_blob"].get<std::string>());
  BlockBlob p = parse_block_blob(blob);
  p.height = 202612;
  EXPECT_EQ(block_id(blob, p), block_id_from_hashing_blob(hashing_blob(blob, p)));
}

// ---- PoW checks and targets ---------------------------------------------------------------------

Hash256 le_hash(const U256& v) {
  Hash256 h;
  v.to_le_bytes(h.data());
  return h;
}

TEST(MoneroPow, ExactBoundaries) {
  // d = 3: (2^256-1)/3 = 0x5555...55 exactly.
  U256 third = U256::from_hex(std::string(64, '5'));
  EXPECT_TRUE(hash_meets_difficulty(le_hash(third), 3));
  U256 above = third;
  above.w[0] += 1;
  EXPECT_FALSE(hash_meets_difficulty(le_hash(above), 3));
  // d = 2^k: hash < 2^(256-k).
  for (unsigned k : {1u, 7u, 63u, 64u, 65u, 127u, 200u}) {
    U256 d = U256::from_u64(1) << k;
    U256 limit = U256::from_u64(1) << (256 - k);
    U256 below = limit;  // limit - 1
    for (auto& w : below.w)
      if (w-- != 0) break;
    EXPECT_TRUE(hash_meets_difficulty(le_hash(below), d)) << k;
    EXPECT_FALSE(hash_meets_difficulty(le_hash(limit), d)) << k;
  }
  EXPECT_TRUE(hash_meets_difficulty(Hash256{}, U256::max()));
  EXPECT_FALSE(hash_meets_difficulty(Hash256{}, U256()));  // difficulty 0
  Hash256 ones;
  ones.fill(0xff);
  EXPECT_TRUE(hash_meets_difficulty(ones, 1));
  EXPECT_FALSE(hash_meets_difficulty(ones, 2));
}

TEST(MoneroPow, AgreesWithTargetComparison) {
  std::mt19937_64 rng(5);
  for (uint64_t d : {1ull, 2ull, 20ull, 100ull, 12345ull, 1000000007ull, 1ull << 40}) {
    U256 target = target_from_difficulty_2_256(double(d));
    for (int i = 0; i < 300; ++i) {
      U256 h;
      for (auto& w : h.w) w = rng();
      h = h >> unsigned(rng() % 48);  // reach both sides of every target
      EXPECT_EQ(hash_meets_difficulty(le_hash(h), d), h <= target) << d << " " << h.to_hex();
    }
  }
}

TEST(MoneroStratumTarget, XmrigEncodings) {
  EXPECT_EQ(stratum_target_hex(20, 16), "cccccccccccccc0c");  // what XMRig logged as diff 20
  EXPECT_EQ(stratum_target_hex(20, 8), "cccccc0c");
  EXPECT_EQ(stratum_target_hex(1, 8), "ffffffff");
  EXPECT_EQ(stratum_target_hex(1, 16), "ffffffffffffffff");
  EXPECT_EQ(stratum_target_hex(1000), "37894100");  // 0xffffffff / 1000 = 0x00418937 -> LE
  EXPECT_EQ(stratum_target_hex(0xffffffffull, 8), "01000000");
  EXPECT_EQ(stratum_target_hex(1ull << 40, 16), "ffffff0000000000");
  EXPECT_THROW(stratum_target_hex(0), std::invalid_argument);
  EXPECT_THROW(stratum_target_hex(1ull << 32, 8), std::invalid_argument);
  EXPECT_THROW(stratum_target_hex(5, 12), std::invalid_argument);
  for (uint64_t d : {1ull, 2ull, 3ull, 7ull, 20ull, 100ull, 5000ull, 65537ull, 1000000ull, 1ull << 31}) {
    EXPECT_EQ(difficulty_from_stratum_target(stratum_target_hex(d, 16)), d);
    // 32-bit targets lose precision at high difficulties; the miner then sees a little more, never less.
    uint64_t seen = difficulty_from_stratum_target(stratum_target_hex(d, 8));
    if (d <= 65537) {
      EXPECT_EQ(seen, d);
    }
    EXPECT_GE(seen, d);
  }
  EXPECT_THROW(difficulty_from_stratum_target("00000000"), std::invalid_argument);
  EXPECT_THROW(difficulty_from_stratum_target("abc"), std::invalid_argument);
  EXPECT_THROW(difficulty_from_stratum_target("zzzzzzzz"), std::invalid_argument);
}

}  // namespace
}  // namespace otedama::chain::monero
