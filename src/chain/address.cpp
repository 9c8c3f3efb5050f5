// Payout address -> scriptPubKey, validated against the daemon's coin and network.
#include "chain/chain.h"

#include <algorithm>

namespace otedama::chain {

namespace {

constexpr Coin kCoins[] = {Coin::bitcoin, Coin::litecoin};
constexpr Network kNetworks[] = {Network::main, Network::test, Network::regtest};

std::string describe(const CoinParams& p) { return p.name + " " + std::string(to_string(p.network)); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has(const std::vector<uint8_t>& v, uint8_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Which coins/networks use this Base58 version byte, e.g. "bitcoin test, litecoin regtest".
std::string users_of_version(uint8_t version) {
  std::string out;
  for (Coin c : kCoins)
    for (Network n : kNetworks) {
      const CoinParams& p = coin_params(c, n);
      if (has(p.p2pkh_versions, version) || has(p.p2sh_versions, version)) out += (out.empty() ? "" : ", ") + describe(p);
    }
  return out;
}

Address witness_address(SegwitProgram program) {
  Address a;
  a.type = AddressType::witness;
  a.witness_version = program.version;
  a.script_pubkey.push_back(program.version == 0 ? 0x00 : uint8_t(0x50 + program.version));
  append_push(a.script_pubkey, program.program);
  a.hash = std::move(program.program);
  return a;
}

Address decode_base58(const Bytes& payload, const CoinParams& params);

Address decode_or_throw(std::string_view address, const CoinParams& params) {
  const std::string expect = "the daemon runs " + describe(params);
  if (address.empty()) throw std::invalid_argument("empty address");
  const std::string low = lower(address);

  // MWEB stealth addresses look like Bech32 but are longer; a coinbase cannot pay to them.
  for (Network n : kNetworks) {
    const CoinParams& p = coin_params(Coin::litecoin, n);
    if (low.rfind(p.mweb_hrp + "1", 0) == 0)
      throw std::invalid_argument("MWEB address cannot receive coinbase outputs (use a legacy, p2sh-segwit or bech32 address)");
  }

  // Segwit: a known human-readable prefix decides the coin and network. (A mixed-case string
  // with such a prefix may still be a Base58 address, e.g. "Ltc1...": that is tried first.)
  const bool single_case = std::all_of(address.begin(), address.end(), [](char c) { return !std::isupper(static_cast<unsigned char>(c)); }) ||
                           std::all_of(address.begin(), address.end(), [](char c) { return !std::islower(static_cast<unsigned char>(c)); });
  for (Coin c : kCoins)
    for (Network n : kNetworks) {
      const CoinParams& p = coin_params(c, n);
      if (low.rfind(p.bech32_hrp + "1", 0) != 0) continue;
      if (!single_case) {
        try {
          return decode_base58(base58check_decode(address), params);
        } catch (const std::invalid_argument&) {
        }
      }
      if (p.bech32_hrp != params.bech32_hrp)
        throw std::invalid_argument("address is for " + describe(p) + " (prefix \"" + p.bech32_hrp + "1\"), but " +
                                    expect + " (prefix \"" + params.bech32_hrp + "1\")");
      try {
        return witness_address(decode_segwit_address(params.bech32_hrp, address));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("invalid segwit address: ") + e.what());
      }
    }

  Bytes payload;
  try {
    payload = base58check_decode(address);
  } catch (const std::invalid_argument& e) {
    // Not Base58: maybe Bech32 with a prefix of no known coin.
    try {
      Bech32Data d = bech32_decode(address);
      throw std::invalid_argument("unknown segwit address prefix \"" + d.hrp + "1\"; " + expect + " (prefix \"" +
                                  params.bech32_hrp + "1\")");
    } catch (const std::invalid_argument& inner) {
      if (std::string_view(inner.what()).starts_with("unknown segwit")) throw;
    }
    throw std::invalid_argument(std::string("invalid address: ") + e.what());
  }
  return decode_base58(payload, params);
}

Address decode_base58(const Bytes& payload, const CoinParams& params) {
  const std::string expect = "the daemon runs " + describe(params);
  if (payload.size() != 21)
    throw std::invalid_argument("Base58Check string decodes to " + std::to_string(payload.size()) +
                                " bytes, not an address (version byte + 20-byte hash)");
  const uint8_t version = payload[0];
  Address a;
  a.hash.assign(payload.begin() + 1, payload.end());
  if (has(params.p2pkh_versions, version)) {
    a.type = AddressType::p2pkh;
    a.script_pubkey = {0x76, 0xa9, 0x14};  // OP_DUP OP_HASH160 <20> ... OP_EQUALVERIFY OP_CHECKSIG
    a.script_pubkey.insert(a.script_pubkey.end(), a.hash.begin(), a.hash.end());
    a.script_pubkey.insert(a.script_pubkey.end(), {0x88, 0xac});
    return a;
  }
  if (has(params.p2sh_versions, version)) {
    a.type = AddressType::p2sh;
    a.script_pubkey = {0xa9, 0x14};  // OP_HASH160 <20> ... OP_EQUAL
    a.script_pubkey.insert(a.script_pubkey.end(), a.hash.begin(), a.hash.end());
    a.script_pubkey.push_back(0x87);
    return a;
  }
  std::string users = users_of_version(version);
  if (!users.empty())
    throw std::invalid_argument("address version byte " + std::to_string(version) + " is for " + users + ", but " +
                                expect);
  throw std::invalid_argument("unknown address version byte " + std::to_string(version) + " (" + expect + ")");
}

}  // namespace

Address decode_address(std::string_view address, const CoinParams& params) { return decode_or_throw(address, params); }

Bytes address_to_script(std::string_view address, const CoinParams& params) {
  return decode_or_throw(address, params).script_pubkey;
}

std::optional<std::string> address_error(std::string_view address, const CoinParams& params) {
  try {
    decode_or_throw(address, params);
    return std::nullopt;
  } catch (const std::invalid_argument& e) {
    return std::string(e.what());
  }
}

}  // namespace otedama::chain
