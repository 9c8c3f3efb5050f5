#include <cstring>
#include <stdexcept>

#include "crypto/crypto.h"
#include "miner/miner.h"

namespace otedama::miner {

PoolUrl parse_pool_url(const std::string& url) {
  std::string rest = url;
  PoolUrl u;
  for (const char* scheme : {"stratum+tcp://", "stratum://", "tcp://", "stratum+ssl://", "stratum+tls://"}) {
    if (rest.rfind(scheme, 0) == 0) {
      u.tls = std::string(scheme).find("ssl") != std::string::npos || std::string(scheme).find("tls") != std::string::npos;
      rest = rest.substr(strlen(scheme));
      break;
    }
  }
  if (rest.find("://") != std::string::npos) throw std::invalid_argument("unsupported pool URL scheme: " + url);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("pool URL needs host:port: " + url);
  u.host = rest.substr(0, colon);
  if (u.host.size() > 2 && u.host.front() == '[' && u.host.back() == ']') u.host = u.host.substr(1, u.host.size() - 2);
  std::string port = rest.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) == 0 || std::stoul(port) > 65535)
    throw std::invalid_argument("pool URL has a bad port: " + url);
  u.port = uint16_t(std::stoul(port));
  return u;
}

Hash256 stratum_prevhash_to_header(std::string_view hex) {
  Hash256 h = hash_from_hex(hex);
  // Stratum sends the header's bytes with each 4-byte word reversed.
  for (size_t i = 0; i < 32; i += 4) std::swap(h[i], h[i + 3]), std::swap(h[i + 1], h[i + 2]);
  return h;
}

namespace {
void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
}  // namespace

std::array<uint8_t, 80> build_header(const StratumJob& job, ByteSpan extranonce1, ByteSpan extranonce2,
                                     uint32_t version, uint32_t ntime, uint32_t nonce) {
  Bytes coinbase;
  coinbase.reserve(job.coinb1.size() + extranonce1.size() + extranonce2.size() + job.coinb2.size());
  coinbase.insert(coinbase.end(), job.coinb1.begin(), job.coinb1.end());
  coinbase.insert(coinbase.end(), extranonce1.begin(), extranonce1.end());
  coinbase.insert(coinbase.end(), extranonce2.begin(), extranonce2.end());
  coinbase.insert(coinbase.end(), job.coinb2.begin(), job.coinb2.end());
  Hash256 root = crypto::sha256d(coinbase);
  uint8_t pair[64];
  for (const auto& branch : job.merkle_branch) {
    std::memcpy(pair, root.data(), 32);
    std::memcpy(pair + 32, branch.data(), 32);
    root = crypto::sha256d(ByteSpan(pair, 64));
  }
  std::array<uint8_t, 80> h{};
  put_le32(h.data(), version);
  std::memcpy(h.data() + 4, job.prevhash.data(), 32);
  std::memcpy(h.data() + 36, root.data(), 32);
  put_le32(h.data() + 68, ntime);
  put_le32(h.data() + 72, job.nbits);
  put_le32(h.data() + 76, nonce);
  return h;
}

U256 share_target(const std::string& algo, double difficulty) {
  U256 diff1 = U256::from_compact(0x1d00ffff);
  if (algo == "scrypt") diff1 = diff1 << 16;
  return target_from_difficulty(difficulty, diff1);
}

}  // namespace otedama::miner
