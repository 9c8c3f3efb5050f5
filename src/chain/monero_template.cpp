// Monero block templates, per-job work (extra nonce + recomputed hashing blob), PoW checks and
// the Stratum target encoding XMRig expects.
#include "chain/monero.h"

#include <algorithm>
#include <cstdio>

namespace otedama::chain::monero {

// ---- PoW and targets ---------------------------------------------------------------------------

bool hash_meets_difficulty(const Hash256& pow_hash, const U256& difficulty) {
  if (difficulty.is_zero()) return false;
  // The product is below 2^256 exactly when its limbs 4..7 are zero.
  U256 h = U256::from_le_bytes(pow_hash.data());
  std::array<uint64_t, 8> acc{};  // 64-bit limbs of the 512-bit product (schoolbook)
  for (int i = 0; i < 4; ++i) {
    unsigned __int128 carry = 0;
    for (int j = 0; j < 4; ++j) {
      unsigned __int128 p = (unsigned __int128)h.w[i] * difficulty.w[j] + acc[i + j] + carry;
      acc[i + j] = uint64_t(p);
      carry = p >> 64;
    }
    acc[i + 4] = uint64_t(carry);  // untouched so far: row i reaches limb i+3 at most
  }
  for (int k = 4; k < 8; ++k)
    if (acc[k] != 0) return false;
  return true;
}

bool hash_meets_difficulty(const Hash256& pow_hash, uint64_t difficulty) {
  return hash_meets_difficulty(pow_hash, U256::from_u64(difficulty));
}

std::string stratum_target_hex(uint64_t difficulty, int digits) {
  if (difficulty == 0) throw std::invalid_argument("stratum target: difficulty must be at least 1");
  uint8_t le[8];
  if (digits == 8) {
    if (difficulty > 0xffffffffull)
      throw std::invalid_argument("stratum target: difficulty " + std::to_string(difficulty) +
                                  " does not fit an 8-digit target; use 16 digits");
    uint32_t t = uint32_t(0xffffffffull / difficulty);
    for (int i = 0; i < 4; ++i) le[i] = uint8_t(t >> (8 * i));
    return to_hex(ByteSpan(le, 4));
  }
  if (digits == 16) {
    uint64_t t = ~0ull / difficulty;
    for (int i = 0; i < 8; ++i) le[i] = uint8_t(t >> (8 * i));
    return to_hex(ByteSpan(le, 8));
  }
  throw std::invalid_argument("stratum target: digits must be 8 or 16, got " + std::to_string(digits));
}

uint64_t difficulty_from_stratum_target(std::string_view target_hex) {
  if (target_hex.size() != 8 && target_hex.size() != 16)
    throw std::invalid_argument("stratum target must have 8 or 16 hex digits, got " + std::to_string(target_hex.size()));
  Bytes b = from_hex(target_hex);
  uint64_t t = 0;
  for (size_t i = 0; i < b.size(); ++i) t |= uint64_t(b[i]) << (8 * i);
  if (t == 0) throw std::invalid_argument("stratum target is zero");
  if (b.size() == 4) t = ~0ull / (0xffffffffull / t);  // XMRig's widening of a 32-bit target
  return ~0ull / t;
}

// ---- templates ------------------------------------------------------------------------------

namespace {

const nlohmann::json& need(const nlohmann::json& j, const char* name) {
  if (!j.is_object() || !j.contains(name)) throw std::invalid_argument(std::string("block template lacks \"") + name + "\"");
  return j[name];
}

uint64_t need_u64(const nlohmann::json& j, const char* name) {
  const auto& v = need(j, name);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw std::invalid_argument(std::string("block template field \"") + name + "\" is not a non-negative integer");
  return v.get<uint64_t>();
}

const std::string& need_string(const nlohmann::json& j, const char* name) {
  const auto& v = need(j, name);
  if (!v.is_string()) throw std::invalid_argument(std::string("block template field \"") + name + "\" is not a string");
  return v.get_ref<const std::string&>();
}

Bytes need_hex(const nlohmann::json& j, const char* name) {
  try {
    return from_hex(need_string(j, name));
  } catch (const std::invalid_argument& e) {
    if (std::string_view(e.what()).starts_with("block template")) throw;
    throw std::invalid_argument(std::string("block template field \"") + name + "\": " + e.what());
  }
}

Hash256 need_hash(const nlohmann::json& j, const char* name) {
  Bytes b = need_hex(j, name);
  if (b.size() != 32)
    throw std::invalid_argument(std::string("block template field \"") + name + "\" is not a 32-byte hash");
  Hash256 h;
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

}  // namespace

BlockTemplate parse_block_template(const nlohmann::json& j, size_t reserve_size) {
  BlockTemplate t;
  t.blob = need_hex(j, "blocktemplate_blob");
  t.hashing_blob = need_hex(j, "blockhashing_blob");
  try {
    t.layout = parse_block_blob(t.blob);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("block template field \"blocktemplate_blob\": ") + e.what());
  }
  if (j.contains("wide_difficulty") && j["wide_difficulty"].is_string()) {
    std::string_view w = j["wide_difficulty"].get_ref<const std::string&>();
    if (w.starts_with("0x") || w.starts_with("0X")) w.remove_prefix(2);
    if (w.empty() || w.size() > 64 || w.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
      throw std::invalid_argument("block template field \"wide_difficulty\" is not a hex number");
    t.difficulty = U256::from_hex(w);
  } else {
    t.difficulty = U256::from_u64(need_u64(j, "difficulty"));
  }
  if (t.difficulty.is_zero()) throw std::invalid_argument("block template difficulty is zero");
  t.height = need_u64(j, "height");
  t.expected_reward = need_u64(j, "expected_reward");
  t.prev_hash = need_hash(j, "prev_hash");
  t.seed_hash = need_hash(j, "seed_hash");
  t.seed_height = j.contains("seed_height") ? need_u64(j, "seed_height") : 0;
  if (j.contains("next_seed_hash") && !need_string(j, "next_seed_hash").empty())
    t.next_seed_hash = need_hash(j, "next_seed_hash");
  t.reserved_offset = size_t(need_u64(j, "reserved_offset"));
  t.reserve_size = reserve_size;

  const BlockBlob& l = t.layout;
  if (l.height != t.height)
    throw std::invalid_argument("block template: blob's miner tx height " + std::to_string(l.height) +
                                " differs from \"height\" " + std::to_string(t.height));
  if (l.prev_id != t.prev_hash) throw std::invalid_argument("block template: blob's prev id differs from \"prev_hash\"");
  if (reserve_size > 0) {
    if (t.reserved_offset < l.extra_offset || t.reserved_offset + reserve_size > l.extra_offset + l.extra_size)
      throw std::invalid_argument("block template: reserved area [" + std::to_string(t.reserved_offset) + ", +" +
                                  std::to_string(reserve_size) + ") is not inside the miner tx extra [" +
                                  std::to_string(l.extra_offset) + ", +" + std::to_string(l.extra_size) + ")");
    if (!std::all_of(t.blob.begin() + t.reserved_offset, t.blob.begin() + t.reserved_offset + reserve_size,
                     [](uint8_t b) { return b == 0; }))
      throw std::invalid_argument("block template: reserved area is not zero");
  }
  // Our reconstruction must agree with the daemon's, or every block we build would be invalid.
  if (hashing_blob(t.blob, l) != t.hashing_blob)
    throw std::invalid_argument("block template: the recomputed hashing blob differs from \"blockhashing_blob\"");
  return t;
}

void set_nonce(Bytes& blob, size_t offset, uint32_t nonce) {
  if (offset > blob.size() || blob.size() - offset < 4)
    throw std::invalid_argument("set_nonce: offset " + std::to_string(offset) + " outside a blob of " +
                                std::to_string(blob.size()) + " bytes");
  for (int i = 0; i < 4; ++i) blob[offset + i] = uint8_t(nonce >> (8 * i));
}

BlockWork make_work(const BlockTemplate& tpl, ByteSpan extra_nonce) {
  if (extra_nonce.size() > tpl.reserve_size)
    throw std::invalid_argument("extra nonce of " + std::to_string(extra_nonce.size()) +
                                " bytes exceeds the template's reserved " + std::to_string(tpl.reserve_size));
  if (!extra_nonce.empty() && tpl.reserved_offset + tpl.reserve_size > tpl.blob.size())
    throw std::invalid_argument("template reserved area lies outside its blob");
  BlockWork w;
  w.block_blob = tpl.blob;
  std::copy(extra_nonce.begin(), extra_nonce.end(), w.block_blob.begin() + tpl.reserved_offset);
  w.hashing_blob = hashing_blob(w.block_blob, tpl.layout);  // same layout: only bytes inside extra changed
  w.nonce_offset = tpl.layout.nonce_offset;
  return w;
}

Bytes BlockWork::hashing_blob_with_nonce(uint32_t nonce) const {
  Bytes out = hashing_blob;
  set_nonce(out, nonce_offset, nonce);
  return out;
}

Bytes BlockWork::block_with_nonce(uint32_t nonce) const {
  Bytes out = block_blob;
  set_nonce(out, nonce_offset, nonce);
  return out;
}

}  // namespace otedama::chain::monero
