// Bech32 (BIP173), Bech32m (BIP350) and segwit addresses.
#include "chain/chain.h"

#include <algorithm>

namespace otedama::chain {

namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr uint32_t kBech32Const = 1, kBech32mConst = 0x2bc830a3;

uint32_t polymod(const std::vector<uint8_t>& values) {
  static constexpr uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint32_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ v;
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= gen[i];
  }
  return chk;
}

std::vector<uint8_t> hrp_expand(std::string_view hrp) {
  std::vector<uint8_t> out;
  out.reserve(hrp.size() * 2 + 1);
  for (char c : hrp) out.push_back(uint8_t(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(uint8_t(c) & 31);
  return out;
}

int charset_index(char c) {
  const char* p = std::find(kCharset, kCharset + 32, c);
  return p == kCharset + 32 ? -1 : int(p - kCharset);
}

// Regroups bits; `pad` for 8->5. For 5->8, leftover bits must be fewer than `from` and zero.
std::optional<Bytes> convert_bits(const std::vector<uint8_t>& in, int from, int to, bool pad) {
  uint32_t acc = 0;
  int bits = 0;
  Bytes out;
  const uint32_t maxv = (1u << to) - 1;
  for (uint8_t v : in) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(uint8_t((acc >> bits) & maxv));
    }
  }
  if (pad) {
    if (bits) out.push_back(uint8_t((acc << (to - bits)) & maxv));
  } else if (bits >= from || ((acc << (to - bits)) & maxv)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

Bech32Data bech32_decode(std::string_view text, size_t max_length) {
  if (text.size() > max_length)
    throw std::invalid_argument("Bech32 string longer than " + std::to_string(max_length) + " characters");
  bool lower = false, upper = false;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126) throw std::invalid_argument("Bech32 string has a character out of range");
    if (c >= 'a' && c <= 'z') lower = true;
    if (c >= 'A' && c <= 'Z') upper = true;
  }
  if (lower && upper) throw std::invalid_argument("Bech32 string mixes upper and lower case");
  size_t sep = text.rfind('1');
  if (sep == std::string_view::npos) throw std::invalid_argument("Bech32 string has no separator '1'");
  if (sep == 0) throw std::invalid_argument("Bech32 string has an empty human-readable part");
  if (text.size() - sep - 1 < 6) throw std::invalid_argument("Bech32 checksum too short");
  Bech32Data out;
  out.hrp.reserve(sep);
  for (size_t i = 0; i < sep; ++i) out.hrp.push_back(char(std::tolower(static_cast<unsigned char>(text[i]))));
  std::vector<uint8_t> values;
  for (size_t i = sep + 1; i < text.size(); ++i) {
    int v = charset_index(char(std::tolower(static_cast<unsigned char>(text[i]))));
    if (v < 0)
      throw std::invalid_argument("invalid Bech32 character '" + std::string(1, text[i]) + "' at position " +
                                  std::to_string(i));
    values.push_back(uint8_t(v));
  }
  std::vector<uint8_t> all = hrp_expand(out.hrp);
  all.insert(all.end(), values.begin(), values.end());
  uint32_t check = polymod(all);
  if (check == kBech32Const)
    out.encoding = Bech32Encoding::bech32;
  else if (check == kBech32mConst)
    out.encoding = Bech32Encoding::bech32m;
  else
    throw std::invalid_argument("bad Bech32 checksum (mistyped address?)");
  out.data.assign(values.begin(), values.end() - 6);
  return out;
}

std::string bech32_encode(Bech32Encoding encoding, std::string_view hrp, const std::vector<uint8_t>& data5) {
  std::vector<uint8_t> all = hrp_expand(hrp);
  all.insert(all.end(), data5.begin(), data5.end());
  all.insert(all.end(), 6, 0);
  uint32_t mod = polymod(all) ^ (encoding == Bech32Encoding::bech32 ? kBech32Const : kBech32mConst);
  std::string out(hrp);
  out.push_back('1');
  for (uint8_t v : data5) {
    if (v > 31) throw std::invalid_argument("bech32_encode: data value above 31");
    out.push_back(kCharset[v]);
  }
  for (int i = 0; i < 6; ++i) out.push_back(kCharset[(mod >> (5 * (5 - i))) & 31]);
  return out;
}

SegwitProgram decode_segwit_address(std::string_view hrp, std::string_view address) {
  Bech32Data d = bech32_decode(address);
  if (d.hrp != hrp)
    throw std::invalid_argument("segwit address prefix \"" + d.hrp + "\" is not \"" + std::string(hrp) + "\"");
  if (d.data.empty()) throw std::invalid_argument("segwit address has no witness version");
  SegwitProgram out;
  out.version = d.data[0];
  if (out.version > 16) throw std::invalid_argument("invalid witness version " + std::to_string(out.version));
  std::vector<uint8_t> rest(d.data.begin() + 1, d.data.end());
  auto program = convert_bits(rest, 5, 8, false);
  if (!program) throw std::invalid_argument("segwit address has invalid padding");
  out.program = std::move(*program);
  if (out.program.size() < 2 || out.program.size() > 40)
    throw std::invalid_argument("invalid witness program length (" + std::to_string(out.program.size()) + " bytes)");
  if (out.version == 0 && out.program.size() != 20 && out.program.size() != 32)
    throw std::invalid_argument("witness v0 program must be 20 or 32 bytes, not " + std::to_string(out.program.size()));
  if (out.version == 0 && d.encoding != Bech32Encoding::bech32)
    throw std::invalid_argument("witness v0 address must use Bech32, not Bech32m (BIP350)");
  if (out.version != 0 && d.encoding != Bech32Encoding::bech32m)
    throw std::invalid_argument("witness v" + std::to_string(out.version) +
                                " address must use Bech32m, not Bech32 (BIP350)");
  return out;
}

std::string encode_segwit_address(std::string_view hrp, const SegwitProgram& program) {
  if (program.version < 0 || program.version > 16) throw std::invalid_argument("invalid witness version");
  if (program.program.size() < 2 || program.program.size() > 40)
    throw std::invalid_argument("invalid witness program length");
  std::vector<uint8_t> data{uint8_t(program.version)};
  auto five = convert_bits(std::vector<uint8_t>(program.program.begin(), program.program.end()), 8, 5, true);
  data.insert(data.end(), five->begin(), five->end());
  return bech32_encode(program.version == 0 ? Bech32Encoding::bech32 : Bech32Encoding::bech32m, hrp, data);
}

}  // namespace otedama::chain
