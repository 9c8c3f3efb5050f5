// Payout addresses: Base58/Base58Check and Bech32/Bech32m against every vector in
// tests/vectors/base58check.json and bech32.json, plus Litecoin's networks and MWEB.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "chain/chain.h"

using namespace otedama;
using namespace otedama::chain;
using nlohmann::json;

namespace {

json load(const std::string& name) {
  std::ifstream in(std::string(OTEDAMA_VECTORS_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  return json::parse(in);
}

const CoinParams& btc(Network n) { return coin_params(Coin::bitcoin, n); }
const CoinParams& ltc(Network n) { return coin_params(Coin::litecoin, n); }

std::string error_of(std::string_view address, const CoinParams& p) {
  auto e = address_error(address, p);
  return e ? *e : std::string("<accepted>");
}

std::string to_lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST(Base58, PlainVectors) {
  json v = load("base58check.json");
  ASSERT_GE(v["base58_plain"].size(), 10u);
  for (const auto& e : v["base58_plain"]) {
    Bytes raw = from_hex(e["hex"].get<std::string>());
    EXPECT_EQ(base58_encode(raw), e["base58"].get<std::string>());
    EXPECT_EQ(to_hex(base58_decode(e["base58"].get<std::string>())), e["hex"].get<std::string>());
  }
}

TEST(Base58, CheckValidVectors) {
  json v = load("base58check.json");
  ASSERT_EQ(v["base58check_valid"].size(), 8u);
  for (const auto& e : v["base58check_valid"]) {
    const std::string s = e["string"];
    SCOPED_TRACE(s);
    Bytes payload = base58check_decode(s);
    EXPECT_EQ(to_hex(payload), e["decoded_with_version_hex"].get<std::string>());
    EXPECT_EQ(base58check_encode(payload), s);
    const std::string kind = e["kind"];
    const CoinParams& p = btc(e["chain"] == "main" ? Network::main : Network::test);
    if (kind == "p2pkh" || kind == "p2sh") {
      Address a = decode_address(s, p);
      EXPECT_EQ(to_hex(a.script_pubkey), e["scriptPubKey_hex"].get<std::string>());
      EXPECT_EQ(a.type, kind == "p2pkh" ? AddressType::p2pkh : AddressType::p2sh);
      EXPECT_EQ(to_hex(a.hash), e["payload_hex"].get<std::string>());
      // The other network names where the address belongs.
      const CoinParams& other = btc(e["chain"] == "main" ? Network::test : Network::main);
      EXPECT_NE(error_of(s, other).find(e["chain"] == "main" ? "bitcoin main" : "bitcoin test"), std::string::npos)
          << error_of(s, other);
    } else {
      // WIF private keys decode as Base58Check but are not payout addresses.
      EXPECT_NE(error_of(s, p).find("not an address"), std::string::npos) << error_of(s, p);
    }
  }
}

TEST(Base58, CheckInvalidVectors) {
  json v = load("base58check.json");
  ASSERT_EQ(v["base58check_invalid"].size(), 7u);
  for (const auto& e : v["base58check_invalid"]) {
    const std::string s = e["string"];
    SCOPED_TRACE(s + " (" + e["reason"].get<std::string>() + ")");
    EXPECT_THROW(base58check_decode(s), std::invalid_argument);
    EXPECT_NE(error_of(s, btc(Network::main)), "<accepted>");
  }
  EXPECT_NE(error_of("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp", btc(Network::main)).find("checksum"), std::string::npos);
  EXPECT_NE(error_of("1FsSi09rv4NeEwvJ2GvXrX7LyxYspbN2mo", btc(Network::main)).find("invalid Base58 character '0'"),
            std::string::npos);
}

TEST(Bech32, StringVectors) {
  json v = load("bech32.json");
  ASSERT_EQ(v["strings"].size(), 40u);
  for (const auto& e : v["strings"]) {
    // string_hex holds the exact bytes (some are not valid UTF-8 in JSON).
    Bytes raw = from_hex(e["string_hex"].get<std::string>());
    std::string s(raw.begin(), raw.end());
    SCOPED_TRACE(e["string"].get<std::string>());
    if (e["valid"].get<bool>()) {
      Bech32Data d = bech32_decode(s);
      EXPECT_EQ(d.encoding, e["encoding"] == "bech32" ? Bech32Encoding::bech32 : Bech32Encoding::bech32m);
      EXPECT_EQ(d.hrp, e["hrp"].get<std::string>());
      EXPECT_EQ(d.data, e["data_5bit"].get<std::vector<uint8_t>>());
      EXPECT_EQ(bech32_encode(d.encoding, d.hrp, d.data), to_lower(s));
    } else {
      EXPECT_THROW(bech32_decode(s), std::invalid_argument) << e["reason"];
    }
  }
}

TEST(Bech32, SegwitValidVectors) {
  json v = load("bech32.json");
  ASSERT_EQ(v["segwit_valid"].size(), 8u);
  for (const auto& e : v["segwit_valid"]) {
    const std::string s = e["address"];
    SCOPED_TRACE(s);
    const std::string hrp = e["hrp"];
    ASSERT_TRUE(hrp == "bc" || hrp == "tb");
    const CoinParams& p = btc(hrp == "bc" ? Network::main : Network::test);
    Address a = decode_address(s, p);
    EXPECT_EQ(a.type, AddressType::witness);
    EXPECT_EQ(a.witness_version, e["witness_version"].get<int>());
    EXPECT_EQ(to_hex(a.hash), e["witness_program_hex"].get<std::string>());
    EXPECT_EQ(to_hex(address_to_script(s, p)), e["scriptPubKey_hex"].get<std::string>());
    SegwitProgram prog = decode_segwit_address(hrp, s);
    EXPECT_EQ(encode_segwit_address(hrp, prog), to_lower(s));
    // On the other network the prefix is named.
    const CoinParams& other = btc(hrp == "bc" ? Network::test : Network::main);
    EXPECT_NE(error_of(s, other).find("address is for bitcoin"), std::string::npos) << error_of(s, other);
  }
}

TEST(Bech32, SegwitInvalidVectors) {
  json v = load("bech32.json");
  ASSERT_EQ(v["segwit_invalid"].size(), 15u);
  for (const auto& e : v["segwit_invalid"]) {
    const std::string s = e["address"];
    SCOPED_TRACE(s + " (" + e["reason"].get<std::string>() + ")");
    for (Network n : {Network::main, Network::test}) EXPECT_NE(error_of(s, btc(n)), "<accepted>");
    EXPECT_THROW(decode_segwit_address("bc", s), std::invalid_argument);
    EXPECT_THROW(decode_segwit_address("tb", s), std::invalid_argument);
  }
  // The BIP350 distinction is reported as such.
  EXPECT_NE(error_of("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", btc(Network::main)).find("Bech32m"),
            std::string::npos);
}

TEST(Address, LitecoinRegtestAddressesFromLitecoind) {
  // Produced by litecoind 0.21 regtest `getnewaddress` (docs/real-nodes.md section 1.2).
  const CoinParams& p = ltc(Network::regtest);
  EXPECT_EQ(to_hex(address_to_script("mi9Ci1NsUUbmbknicSySGco9tkCjuGZ9Zt", p)),
            "76a9141ccb41eeb05e380915b394c7677ec348771af45e88ac");
  EXPECT_EQ(to_hex(address_to_script("QN7TCH1twGJQ8Kzm5EQiGNmokkzeDQWg9c", p)),
            "a914108acc7d496fd54b99bcf8bfe6cb9d96feba195487");
  EXPECT_EQ(to_hex(address_to_script("rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we", p)),
            "0014ff0500f14c5c65420ee06698971daed01fc4a721");
  // The same hash with the legacy P2SH version 196 ("2...") is accepted too.
  Bytes h = from_hex("c4108acc7d496fd54b99bcf8bfe6cb9d96feba1954");
  std::string legacy_p2sh = base58check_encode(h);
  EXPECT_EQ(legacy_p2sh[0], '2');
  EXPECT_EQ(to_hex(address_to_script(legacy_p2sh, p)), "a914108acc7d496fd54b99bcf8bfe6cb9d96feba195487");
  // ... on testnet as well, and the bech32 prefix differs there.
  EXPECT_EQ(address_error("QN7TCH1twGJQ8Kzm5EQiGNmokkzeDQWg9c", ltc(Network::test)), std::nullopt);
  EXPECT_NE(error_of("rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we", ltc(Network::test)).find("litecoin regtest"),
            std::string::npos);
  // Wrong coin: a litecoin regtest bech32 address on bitcoin regtest.
  EXPECT_NE(error_of("rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8we", btc(Network::regtest)).find("litecoin regtest"),
            std::string::npos);
  // Wrong network: regtest legacy address on litecoin main names its networks.
  std::string err = error_of("mi9Ci1NsUUbmbknicSySGco9tkCjuGZ9Zt", ltc(Network::main));
  EXPECT_NE(err.find("version byte 111"), std::string::npos) << err;
  EXPECT_NE(err.find("litecoin regtest"), std::string::npos) << err;
  EXPECT_NE(err.find("the daemon runs litecoin main"), std::string::npos) << err;
}

TEST(Address, LitecoinMainnetVersions) {
  const CoinParams& p = ltc(Network::main);
  Bytes hash = from_hex("0102030405060708090a0b0c0d0e0f1011121314");
  auto with_version = [&](uint8_t v) {
    Bytes b{v};
    b.insert(b.end(), hash.begin(), hash.end());
    return base58check_encode(b);
  };
  EXPECT_EQ(with_version(48)[0], 'L');
  EXPECT_EQ(to_hex(address_to_script(with_version(48), p)), "76a914" + to_hex(hash) + "88ac");
  EXPECT_EQ(with_version(50)[0], 'M');
  EXPECT_EQ(to_hex(address_to_script(with_version(50), p)), "a914" + to_hex(hash) + "87");
  EXPECT_EQ(to_hex(address_to_script(with_version(5), p)), "a914" + to_hex(hash) + "87");  // legacy "3..."
  // Bitcoin main P2PKH (version 0) is not a litecoin address.
  EXPECT_NE(error_of(with_version(0), p).find("bitcoin main"), std::string::npos);
  // A version no coin uses.
  EXPECT_NE(error_of(with_version(7), p).find("unknown address version byte 7"), std::string::npos);
  // ltc1 segwit round trip through our encoder.
  std::string seg = encode_segwit_address("ltc", {0, hash});
  EXPECT_EQ(seg.substr(0, 4), "ltc1");
  EXPECT_EQ(to_hex(address_to_script(seg, p)), "0014" + to_hex(hash));
  std::string taproot = encode_segwit_address("ltc", {1, Bytes(32, 0xab)});
  EXPECT_EQ(to_hex(address_to_script(taproot, p)), "5120" + to_hex(Bytes(32, 0xab)));
}

TEST(Address, MwebAddressesAreRefused) {
  // MWEB stealth addresses are Bech32-like and ~130 characters; a coinbase cannot pay to them.
  std::string fake_regtest = "tmweb1qq" + std::string(120, 'q');
  std::string fake_main = "ltcmweb1qq" + std::string(120, 'q');
  EXPECT_NE(error_of(fake_regtest, ltc(Network::regtest)).find("MWEB address"), std::string::npos);
  EXPECT_NE(error_of(fake_main, ltc(Network::main)).find("MWEB address"), std::string::npos);
}

TEST(Address, Garbage) {
  const CoinParams& p = ltc(Network::regtest);
  EXPECT_NE(error_of("", p).find("empty"), std::string::npos);
  EXPECT_NE(error_of("not an address", p), "<accepted>");
  EXPECT_NE(error_of("rltc1qluzspu2vt3j5yrhqv6vfw8dw6q0uffep2dc8wx", p).find("checksum"), std::string::npos);
  EXPECT_THROW(address_to_script("xyz", p), std::invalid_argument);
}

TEST(CoinParams, NetworksAndTargets) {
  EXPECT_EQ(network_from_chain("main"), Network::main);
  EXPECT_EQ(network_from_chain("test"), Network::test);
  EXPECT_EQ(network_from_chain("regtest"), Network::regtest);
  EXPECT_THROW(network_from_chain("moon"), std::invalid_argument);
  EXPECT_EQ(coin_from_string("litecoin"), Coin::litecoin);
  EXPECT_THROW(coin_from_string("dogecoin"), std::invalid_argument);
  EXPECT_EQ(btc(Network::main).diff1_target.to_hex(),
            "00000000ffff0000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(ltc(Network::regtest).diff1_target.to_hex(),
            "0000ffff00000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(ltc(Network::main).algorithm, "scrypt");
  EXPECT_EQ(btc(Network::test).algorithm, "sha256d");
  EXPECT_EQ(ltc(Network::regtest).gbt_rules, (std::vector<std::string>{"mweb", "segwit"}));
  EXPECT_EQ(btc(Network::regtest).gbt_rules, (std::vector<std::string>{"segwit"}));
  EXPECT_EQ(btc(Network::regtest).bech32_hrp, "bcrt");
  EXPECT_EQ(ltc(Network::test).bech32_hrp, "tltc");
  for (Coin c : {Coin::bitcoin, Coin::litecoin})
    for (Network n : {Network::main, Network::test, Network::regtest}) EXPECT_EQ(coin_params(c, n).coinbase_maturity, 100u);
}
