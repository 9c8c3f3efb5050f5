// Monero serialization: varints, tree_hash, block blobs, the miner tx hash, hashing blobs and
// block ids (cryptonote_format_utils.cpp, crypto/tree-hash.c).
#include "chain/monero.h"

#include <algorithm>

#include "crypto/keccak.h"

namespace otedama::chain::monero {

void append_varint(Bytes& out, uint64_t n) {
  while (n >= 0x80) {
    out.push_back(uint8_t(n & 0x7f) | 0x80);
    n >>= 7;
  }
  out.push_back(uint8_t(n));
}

Bytes varint(uint64_t n) {
  Bytes out;
  append_varint(out, n);
  return out;
}

uint64_t read_varint(ByteSpan data, size_t& pos) {
  uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= data.size()) throw std::invalid_argument("truncated varint at offset " + std::to_string(pos));
    uint8_t b = data[pos++];
    if (shift == 63 && b > 1) throw std::invalid_argument("varint overflows 64 bits at offset " + std::to_string(pos - 1));
    n |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (b == 0 && shift != 0)
        throw std::invalid_argument("non-canonical varint (trailing zero byte) at offset " + std::to_string(pos - 1));
      return n;
    }
  }
}

Hash256 cn_fast_hash(ByteSpan data) { return crypto::keccak256(data); }

namespace {

Hash256 hash_pair(const Hash256& a, const Hash256& b) {
  std::array<uint8_t, 64> buf;
  std::copy(a.begin(), a.end(), buf.begin());
  std::copy(b.begin(), b.end(), buf.begin() + 32);
  return crypto::keccak256(buf);
}

}  // namespace

Hash256 tree_hash(std::span<const Hash256> hashes) {
  const size_t n = hashes.size();
  if (n == 0) throw std::invalid_argument("tree_hash of no hashes");
  if (n == 1) return hashes[0];
  if (n == 2) return hash_pair(hashes[0], hashes[1]);
  size_t cnt = 1;  // largest power of two below n
  while (cnt * 2 < n) cnt *= 2;
  std::vector<Hash256> level(hashes.begin(), hashes.begin() + (2 * cnt - n));
  level.reserve(cnt);
  for (size_t i = 2 * cnt - n; i < n; i += 2) level.push_back(hash_pair(hashes[i], hashes[i + 1]));
  while (level.size() > 2) {
    for (size_t i = 0; i < level.size() / 2; ++i) level[i] = hash_pair(level[2 * i], level[2 * i + 1]);
    level.resize(level.size() / 2);
  }
  return hash_pair(level[0], level[1]);
}

namespace {

struct Reader {
  ByteSpan data;
  size_t pos = 0;

  void need(size_t n, const char* what) const {
    if (data.size() - pos < n)
      throw std::invalid_argument(std::string("block blob truncated in ") + what + " at offset " + std::to_string(pos));
  }
  uint64_t v(const char* what) {
    try {
      return read_varint(data, pos);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("block blob: ") + what + ": " + e.what());
    }
  }
  uint8_t byte(const char* what) {
    need(1, what);
    return data[pos++];
  }
  Hash256 hash(const char* what) {
    need(32, what);
    Hash256 h;
    std::copy_n(data.begin() + pos, 32, h.begin());
    pos += 32;
    return h;
  }
};

}  // namespace

BlockBlob parse_block_blob(ByteSpan blob) {
  BlockBlob b;
  Reader r{blob};
  b.major_version = r.v("major version");
  b.minor_version = r.v("minor version");
  b.timestamp = r.v("timestamp");
  b.prev_id = r.hash("prev id");
  r.need(4, "nonce");
  b.nonce_offset = r.pos;
  b.nonce = uint32_t(blob[r.pos]) | uint32_t(blob[r.pos + 1]) << 8 | uint32_t(blob[r.pos + 2]) << 16 |
            uint32_t(blob[r.pos + 3]) << 24;
  r.pos += 4;
  b.header_size = r.pos;

  b.miner_tx_version = r.v("miner tx version");
  if (b.miner_tx_version != 1 && b.miner_tx_version != 2)
    throw std::invalid_argument("block blob: unknown miner tx version " + std::to_string(b.miner_tx_version));
  b.unlock_time = r.v("miner tx unlock_time");
  uint64_t n_in = r.v("miner tx input count");
  if (n_in != 1) throw std::invalid_argument("block blob: miner tx has " + std::to_string(n_in) + " inputs, expected 1");
  size_t at = r.pos;
  if (uint8_t tag = r.byte("miner tx input"); tag != 0xff)
    throw std::invalid_argument("block blob: miner tx input at offset " + std::to_string(at) + " has type " +
                                std::to_string(tag) + ", expected txin_gen (0xff)");
  b.height = r.v("miner tx height");
  uint64_t n_out = r.v("miner tx output count");
  if (n_out > blob.size()) throw std::invalid_argument("block blob: impossible miner tx output count " + std::to_string(n_out));
  for (uint64_t i = 0; i < n_out; ++i) {
    MinerOutput o;
    o.amount = r.v("miner tx output amount");
    at = r.pos;
    uint8_t type = r.byte("miner tx output target");
    if (type != 0x02 && type != 0x03)
      throw std::invalid_argument("block blob: miner tx output " + std::to_string(i) + " at offset " + std::to_string(at) +
                                  " has target type " + std::to_string(type) +
                                  ", expected 02 (txout_to_key) or 03 (txout_to_tagged_key)");
    o.key = r.hash("miner tx output key");
    if (type == 0x03) o.view_tag = r.byte("miner tx output view tag");
    b.outputs.push_back(o);
  }
  uint64_t extra_size = r.v("miner tx extra length");
  r.need(extra_size, "miner tx extra");
  b.extra_offset = r.pos;
  b.extra_size = size_t(extra_size);
  r.pos += b.extra_size;
  b.miner_tx_prefix_end = r.pos;
  if (b.miner_tx_version >= 2) {
    at = r.pos;
    if (uint8_t rct = r.byte("miner tx rct type"); rct != 0)
      throw std::invalid_argument("block blob: miner tx rct type " + std::to_string(rct) + " at offset " +
                                  std::to_string(at) + ", expected 0 (RCTTypeNull)");
  }
  b.miner_tx_end = r.pos;

  uint64_t n_tx = r.v("tx hash count");
  if (n_tx > (blob.size() - r.pos) / 32)
    throw std::invalid_argument("block blob: " + std::to_string(n_tx) + " tx hashes do not fit in the remaining " +
                                std::to_string(blob.size() - r.pos) + " bytes");
  b.tx_hashes.reserve(size_t(n_tx));
  for (uint64_t i = 0; i < n_tx; ++i) b.tx_hashes.push_back(r.hash("tx hashes"));
  if (r.pos != blob.size())
    throw std::invalid_argument("block blob: " + std::to_string(blob.size() - r.pos) + " trailing bytes after the tx hashes");
  return b;
}

Hash256 miner_tx_hash(ByteSpan blob, const BlockBlob& l) {
  if (l.miner_tx_end > blob.size() || l.miner_tx_prefix_end > l.miner_tx_end || l.header_size > l.miner_tx_prefix_end)
    throw std::invalid_argument("miner_tx_hash: layout does not match the blob");
  if (l.miner_tx_version == 1) return cn_fast_hash(blob.subspan(l.header_size, l.miner_tx_end - l.header_size));
  std::array<uint8_t, 96> parts{};  // H(prefix) || H(rct base) || H(prunable) = 32 zero bytes (none)
  Hash256 prefix = cn_fast_hash(blob.subspan(l.header_size, l.miner_tx_prefix_end - l.header_size));
  Hash256 base = cn_fast_hash(blob.subspan(l.miner_tx_prefix_end, l.miner_tx_end - l.miner_tx_prefix_end));
  std::copy(prefix.begin(), prefix.end(), parts.begin());
  std::copy(base.begin(), base.end(), parts.begin() + 32);
  return cn_fast_hash(parts);
}

Bytes hashing_blob(ByteSpan blob, const BlockBlob& l) {
  std::vector<Hash256> leaves;
  leaves.reserve(1 + l.tx_hashes.size());
  leaves.push_back(miner_tx_hash(blob, l));
  leaves.insert(leaves.end(), l.tx_hashes.begin(), l.tx_hashes.end());
  Hash256 root = tree_hash(leaves);
  Bytes out(blob.begin(), blob.begin() + l.header_size);
  out.insert(out.end(), root.begin(), root.end());
  append_varint(out, 1 + l.tx_hashes.size());
  return out;
}

Hash256 block_id_from_hashing_blob(ByteSpan hb) {
  Bytes data = varint(hb.size());
  data.insert(data.end(), hb.begin(), hb.end());
  return cn_fast_hash(data);
}

Hash256 block_id(ByteSpan block_blob, const BlockBlob& layout) {
  if (layout.height == 202612) {
    static const Hash256 kBlobHash202612 =
        hash_from_hex("3a8a2b3a29b50fc86ff73dd087ea43c6f0d6b8f936c849194d5c84c737903966");
    static const Hash256 kId202612 = hash_from_hex("bbd604d2ba11ba27935e006ed39c9bfdd99b76bf4a50654bc1e1e61217962698");
    if (cn_fast_hash(block_blob) == kBlobHash202612) return kId202612;
  }
  return block_id_from_hashing_blob(hashing_blob(block_blob, layout));
}

}  // namespace otedama::chain::monero
