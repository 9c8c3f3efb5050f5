// `otedama hash`: one digest, printed as lowercase hex in the function's output byte order.
#include <cstdio>
#include <stdexcept>

#include "app/app.h"
#include "crypto/crypto.h"

namespace otedama::app {

namespace {

Bytes hex_arg(const char* flag, const std::string& value) {
  try {
    return from_hex(value);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(flag) + ": " + e.what());
  }
}

// A 64-bit nonce value written in hex (as the vector files write nonce_hex), 1 to 16 digits.
uint64_t nonce_arg(std::string v) {
  if (v.rfind("0x", 0) == 0 || v.rfind("0X", 0) == 0) v = v.substr(2);
  if (v.empty() || v.size() > 16 || v.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    throw std::invalid_argument("--nonce: expected a 64-bit number as up to 16 hex digits, got '" + v + "'");
  return std::stoull(v, nullptr, 16);
}

}  // namespace

int hash(const HashOptions& o) {
  try {
    const std::string& a = o.algo;
    std::string out;
    auto need_input = [&] {
      if (!o.input) throw std::invalid_argument("--input HEX is required for --algo " + a);
      return hex_arg("--input", *o.input);
    };
    if (a == "sha256d") {
      out = to_hex(crypto::sha256d(need_input()));
    } else if (a == "scrypt") {
      out = to_hex(crypto::scrypt_1024_1_1(need_input()));
    } else if (a == "keccak256") {
      out = to_hex(crypto::keccak256(need_input()));
    } else if (a == "randomx") {
      if (!o.key) throw std::invalid_argument("--key HEX is required for --algo randomx (it may be empty: --key \"\")");
      Bytes key = hex_arg("--key", *o.key);
      if (key.size() > 60) throw std::invalid_argument("--key: RandomX keys are 0 to 60 bytes, got " + std::to_string(key.size()));
      out = to_hex(crypto::randomx_hash(key, need_input()));
    } else if (a == "ethash" || a == "etchash" || a == "kawpow") {
      if (!o.height || !o.header || !o.nonce)
        throw std::invalid_argument("--height N, --header HEX and --nonce HEX are required for --algo " + a);
      Bytes header = hex_arg("--header", *o.header);
      if (header.size() != 32)
        throw std::invalid_argument("--header: expected the 32-byte header hash (64 hex digits), got " +
                                    std::to_string(header.size()) + " bytes");
      Hash256 h;
      std::copy(header.begin(), header.end(), h.begin());
      uint64_t nonce = nonce_arg(*o.nonce);
      crypto::EthashResult r = a == "kawpow" ? crypto::kawpow_hash_light(*o.height, h, nonce)
                                             : crypto::ethash_hash_light(a == "ethash" ? crypto::EthashVariant::ethash
                                                                                       : crypto::EthashVariant::etchash,
                                                                         *o.height, h, nonce);
      out = "mix=" + to_hex(r.mix) + " final=" + to_hex(r.final_hash);
    } else {
      throw std::invalid_argument("unknown --algo '" + a +
                                  "' (sha256d, scrypt, keccak256, randomx, ethash, etchash, kawpow)");
    }
    printf("%s\n", out.c_str());
    return kExitOk;
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
}

}  // namespace otedama::app
