// Coin and network parameters (Bitcoin Core / Litecoin Core chainparams.cpp).
#include "chain/chain.h"

namespace otedama::chain {

namespace {

U256 sha256d_diff1() { return U256::from_compact(0x1d00ffff); }  // 0x00000000ffff0000...
U256 scrypt_diff1() { return U256::from_compact(0x1d00ffff) << 16; }  // 0x0000ffff0000...

CoinParams make(Coin coin, Network network) {
  CoinParams p;
  p.coin = coin;
  p.network = network;
  p.coinbase_maturity = 100;
  if (coin == Coin::bitcoin) {
    p.name = "bitcoin";
    p.algorithm = "sha256d";
    p.diff1_target = sha256d_diff1();
    p.gbt_rules = {"segwit"};
    switch (network) {
      case Network::main: p.p2pkh_versions = {0}; p.p2sh_versions = {5}; p.bech32_hrp = "bc"; break;
      case Network::test: p.p2pkh_versions = {111}; p.p2sh_versions = {196}; p.bech32_hrp = "tb"; break;
      case Network::regtest: p.p2pkh_versions = {111}; p.p2sh_versions = {196}; p.bech32_hrp = "bcrt"; break;
    }
  } else {
    p.name = "litecoin";
    p.algorithm = "scrypt";
    p.diff1_target = scrypt_diff1();
    p.gbt_rules = {"mweb", "segwit"};  // litecoind 0.21 refuses anything else (-8)
    switch (network) {
      case Network::main:
        p.p2pkh_versions = {48}; p.p2sh_versions = {50, 5}; p.bech32_hrp = "ltc"; p.mweb_hrp = "ltcmweb"; break;
      case Network::test:
        p.p2pkh_versions = {111}; p.p2sh_versions = {58, 196}; p.bech32_hrp = "tltc"; p.mweb_hrp = "tmweb"; break;
      case Network::regtest:
        p.p2pkh_versions = {111}; p.p2sh_versions = {58, 196}; p.bech32_hrp = "rltc"; p.mweb_hrp = "tmweb"; break;
    }
  }
  return p;
}

}  // namespace

const CoinParams& coin_params(Coin coin, Network network) {
  static const CoinParams table[2][3] = {
      {make(Coin::bitcoin, Network::main), make(Coin::bitcoin, Network::test), make(Coin::bitcoin, Network::regtest)},
      {make(Coin::litecoin, Network::main), make(Coin::litecoin, Network::test),
       make(Coin::litecoin, Network::regtest)}};
  return table[static_cast<int>(coin)][static_cast<int>(network)];
}

Coin coin_from_string(std::string_view name) {
  if (name == "bitcoin") return Coin::bitcoin;
  if (name == "litecoin") return Coin::litecoin;
  throw std::invalid_argument("unknown coin \"" + std::string(name) + "\" (expected bitcoin or litecoin)");
}

std::string_view to_string(Coin coin) { return coin == Coin::bitcoin ? "bitcoin" : "litecoin"; }

std::string_view to_string(Network network) {
  switch (network) {
    case Network::main: return "main";
    case Network::test: return "test";
    case Network::regtest: return "regtest";
  }
  return "?";
}

Network network_from_chain(std::string_view chain) {
  if (chain == "main") return Network::main;
  if (chain == "test" || chain == "signet" || chain == "testnet4") return Network::test;
  if (chain == "regtest") return Network::regtest;
  throw std::invalid_argument("unknown chain \"" + std::string(chain) + "\" from the daemon (expected main, test or regtest)");
}

}  // namespace otedama::chain
