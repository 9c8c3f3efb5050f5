// Monero addresses: the block-wise Base58 of common/base58.cpp, network prefixes, the Keccak
// checksum, and the ed25519 point check monerod applies to both public keys.
#include "chain/monero.h"

#include <openssl/bn.h>

#include <algorithm>
#include <memory>

namespace otedama::chain::monero {

namespace {

constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr size_t kFullBlock = 8, kFullEncodedBlock = 11;
constexpr int kEncodedSizes[] = {0, 2, 3, 5, 6, 7, 9, 10, 11};  // by decoded size

int decoded_size(size_t encoded) {
  for (int i = 0; i <= 8; ++i)
    if (kEncodedSizes[i] == int(encoded)) return i;
  return -1;
}

int digit_of(char c) {
  const char* p = std::find(kAlphabet, kAlphabet + 58, c);
  return p == kAlphabet + 58 ? -1 : int(p - kAlphabet);
}

void encode_block(const uint8_t* data, size_t size, char* out) {
  uint64_t num = 0;
  for (size_t i = 0; i < size; ++i) num = num << 8 | data[i];  // big-endian
  for (int i = kEncodedSizes[size] - 1; i >= 0; --i) {
    out[i] = kAlphabet[num % 58];
    num /= 58;
  }
}

void decode_block(std::string_view text, size_t at, uint8_t* out) {
  int size = decoded_size(text.size());
  unsigned __int128 num = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int d = digit_of(text[i]);
    if (d < 0)
      throw std::invalid_argument("invalid Base58 character '" + std::string(1, text[i]) + "' at position " +
                                  std::to_string(at + i));
    num = num * 58 + unsigned(d);
    if (num >> 64) throw std::invalid_argument("Base58 block at position " + std::to_string(at) + " overflows");
  }
  if (size < 8 && (uint64_t(num) >> (8 * size)) != 0)
    throw std::invalid_argument("Base58 block at position " + std::to_string(at) + " overflows its " +
                                std::to_string(size) + " bytes");
  for (int i = size - 1; i >= 0; --i, num >>= 8) out[i] = uint8_t(num);
}

}  // namespace

std::string base58_encode(ByteSpan data) {
  size_t full = data.size() / kFullBlock, rest = data.size() % kFullBlock;
  std::string out(full * kFullEncodedBlock + size_t(kEncodedSizes[rest]), '1');
  for (size_t i = 0; i < full; ++i) encode_block(data.data() + i * kFullBlock, kFullBlock, &out[i * kFullEncodedBlock]);
  if (rest) encode_block(data.data() + full * kFullBlock, rest, &out[full * kFullEncodedBlock]);
  return out;
}

Bytes base58_decode(std::string_view text) {
  size_t full = text.size() / kFullEncodedBlock, rest = text.size() % kFullEncodedBlock;
  int rest_size = decoded_size(rest);
  if (rest_size < 0)
    throw std::invalid_argument("invalid Base58 length " + std::to_string(text.size()) + " (a last block of " +
                                std::to_string(rest) + " characters is impossible)");
  Bytes out(full * kFullBlock + size_t(rest_size));
  for (size_t i = 0; i < full; ++i)
    decode_block(text.substr(i * kFullEncodedBlock, kFullEncodedBlock), i * kFullEncodedBlock, &out[i * kFullBlock]);
  if (rest) decode_block(text.substr(full * kFullEncodedBlock), full * kFullEncodedBlock, &out[full * kFullBlock]);
  return out;
}

// ---- networks -----------------------------------------------------------------------------------

std::string_view to_string(NetType net) {
  switch (net) {
    case NetType::mainnet: return "mainnet";
    case NetType::testnet: return "testnet";
    case NetType::stagenet: return "stagenet";
  }
  return "?";
}

NetType nettype_from_string(std::string_view name) {
  if (name == "mainnet" || name == "fakechain") return NetType::mainnet;  // regtest uses mainnet prefixes
  if (name == "testnet") return NetType::testnet;
  if (name == "stagenet") return NetType::stagenet;
  throw std::invalid_argument("unknown Monero network \"" + std::string(name) + "\"");
}

std::string_view to_string(AddressKind kind) {
  switch (kind) {
    case AddressKind::standard: return "standard address";
    case AddressKind::integrated: return "integrated address";
    case AddressKind::subaddress: return "subaddress";
  }
  return "?";
}

const AddressPrefixes& address_prefixes(NetType net) {
  static const AddressPrefixes main{18, 19, 42}, test{53, 54, 63}, stage{24, 25, 36};
  return net == NetType::mainnet ? main : net == NetType::testnet ? test : stage;
}

// ---- ed25519 point check ---------------------------------------------------------------------------

namespace {

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn bn() { return Bn(BN_new()); }

}  // namespace

bool is_valid_public_key(const Hash256& key) {
  // ref10 ge_frombytes_vartime as Monero has it: y canonical (< p), x^2 = (y^2-1)/(d*y^2+1) must
  // have a root, and x = 0 cannot carry the sign bit. p = 2^255-19, d = -121665/121666.
  std::unique_ptr<BN_CTX, BnFree> ctx(BN_CTX_new());
  Bn p = bn(), y = bn(), d = bn(), u = bn(), v = bn(), t = bn(), e = bn(), one = bn();
  if (!ctx || !p || !y || !d || !u || !v || !t || !e || !one) throw std::bad_alloc();
  BN_one(one.get());
  BN_set_bit(p.get(), 255);
  BN_sub_word(p.get(), 19);
  uint8_t be[32];
  for (int i = 0; i < 32; ++i) be[i] = key[31 - i];
  const bool sign = be[0] & 0x80;
  be[0] &= 0x7f;
  BN_bin2bn(be, 32, y.get());
  if (BN_cmp(y.get(), p.get()) >= 0) return false;
  // d = -121665 * inverse(121666) mod p
  BN_set_word(t.get(), 121666);
  BN_mod_inverse(d.get(), t.get(), p.get(), ctx.get());
  BN_set_word(t.get(), 121665);
  BN_mod_mul(d.get(), d.get(), t.get(), p.get(), ctx.get());
  BN_sub(d.get(), p.get(), d.get());
  BN_mod_sqr(t.get(), y.get(), p.get(), ctx.get());                // y^2
  BN_mod_sub(u.get(), t.get(), one.get(), p.get(), ctx.get());     // u = y^2 - 1
  BN_mod_mul(v.get(), d.get(), t.get(), p.get(), ctx.get());
  BN_mod_add(v.get(), v.get(), one.get(), p.get(), ctx.get());     // v = d*y^2 + 1 (never 0: d is a non-square)
  if (BN_is_zero(u.get())) return !sign;                           // x = 0
  BN_mod_inverse(t.get(), v.get(), p.get(), ctx.get());
  BN_mod_mul(t.get(), u.get(), t.get(), p.get(), ctx.get());       // x^2 = u / v
  BN_copy(e.get(), p.get());
  BN_sub_word(e.get(), 1);
  BN_rshift1(e.get(), e.get());                                    // (p-1)/2: Euler's criterion
  BN_mod_exp(t.get(), t.get(), e.get(), p.get(), ctx.get());
  return BN_is_one(t.get());
}

// ---- addresses ----------------------------------------------------------------------------------

MoneroAddress decode_address(std::string_view text) {
  if (text.empty()) throw std::invalid_argument("empty Monero address");
  Bytes raw;
  try {
    raw = base58_decode(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("not a Monero address: ") + e.what());
  }
  if (raw.size() <= 4) throw std::invalid_argument("not a Monero address: too short");
  Hash256 check = cn_fast_hash(ByteSpan(raw.data(), raw.size() - 4));
  if (!std::equal(check.begin(), check.begin() + 4, raw.end() - 4))
    throw std::invalid_argument("bad Monero address checksum (mistyped address?)");
  ByteSpan body(raw.data(), raw.size() - 4);
  size_t pos = 0;
  uint64_t prefix;
  try {
    prefix = read_varint(body, pos);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("not a Monero address: bad prefix");
  }
  MoneroAddress a;
  bool known = false;
  for (NetType net : {NetType::mainnet, NetType::testnet, NetType::stagenet}) {
    const AddressPrefixes& p = address_prefixes(net);
    for (auto [value, kind] : {std::pair{p.standard, AddressKind::standard}, std::pair{p.integrated, AddressKind::integrated},
                               std::pair{p.subaddress, AddressKind::subaddress}})
      if (prefix == value) {
        a.net = net;
        a.kind = kind;
        known = true;
      }
  }
  if (!known) throw std::invalid_argument("unknown Monero address prefix " + std::to_string(prefix) + " (another coin?)");
  const size_t want = a.kind == AddressKind::integrated ? 72 : 64;
  if (body.size() - pos != want)
    throw std::invalid_argument("bad Monero " + std::string(to_string(a.kind)) + " length: " +
                                std::to_string(body.size() - pos) + " bytes of keys, expected " + std::to_string(want));
  std::copy_n(body.begin() + pos, 32, a.spend_public_key.begin());
  std::copy_n(body.begin() + pos + 32, 32, a.view_public_key.begin());
  if (a.kind == AddressKind::integrated) {
    a.payment_id.emplace();
    std::copy_n(body.begin() + pos + 64, 8, a.payment_id->begin());
  }
  if (!is_valid_public_key(a.spend_public_key)) throw std::invalid_argument("Monero address has an invalid public spend key");
  if (!is_valid_public_key(a.view_public_key)) throw std::invalid_argument("Monero address has an invalid public view key");
  return a;
}

MoneroAddress decode_address(std::string_view text, NetType expected) {
  MoneroAddress a = decode_address(text);
  if (a.net != expected)
    throw std::invalid_argument("Monero " + std::string(to_string(a.kind)) + " of " + std::string(to_string(a.net)) +
                                ", but the daemon is on " + std::string(to_string(expected)) +
                                " (regtest uses mainnet addresses)");
  return a;
}

std::string encode_address(const MoneroAddress& a) {
  const AddressPrefixes& p = address_prefixes(a.net);
  uint64_t prefix = a.kind == AddressKind::standard ? p.standard : a.kind == AddressKind::integrated ? p.integrated : p.subaddress;
  if ((a.kind == AddressKind::integrated) != a.payment_id.has_value())
    throw std::invalid_argument("encode_address: an integrated address needs a payment id, others must have none");
  Bytes data = varint(prefix);
  data.insert(data.end(), a.spend_public_key.begin(), a.spend_public_key.end());
  data.insert(data.end(), a.view_public_key.begin(), a.view_public_key.end());
  if (a.payment_id) data.insert(data.end(), a.payment_id->begin(), a.payment_id->end());
  Hash256 check = cn_fast_hash(data);
  data.insert(data.end(), check.begin(), check.begin() + 4);
  return base58_encode(data);
}

MoneroAddress check_mining_address(std::string_view text, NetType net) {
  MoneroAddress a = decode_address(text, net);
  if (a.kind == AddressKind::subaddress)
    throw std::invalid_argument("a subaddress cannot receive the coinbase (monerod: mining to subaddress is not "
                                "supported); use the wallet's primary address");
  if (a.kind == AddressKind::integrated)
    throw std::invalid_argument("an integrated address cannot receive the coinbase (its payment id would be lost); "
                                "use the wallet's primary address");
  return a;
}

std::optional<std::string> address_error(std::string_view text, NetType net) {
  try {
    decode_address(text, net);
    return std::nullopt;
  } catch (const std::invalid_argument& e) {
    return std::string(e.what());
  }
}

std::optional<std::string> mining_address_error(std::string_view text, NetType net) {
  try {
    check_mining_address(text, net);
    return std::nullopt;
  } catch (const std::invalid_argument& e) {
    return std::string(e.what());
  }
}

}  // namespace otedama::chain::monero
