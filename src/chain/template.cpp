// getblocktemplate JSON -> BlockTemplate, refusing anything malformed with the field's name.
#include "chain/chain.h"

#include <limits>

namespace otedama::chain {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument("malformed block template: \"" + field + "\" " + why);
}

const json& need(const json& j, const std::string& field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) bad(field, "is missing");
  return *it;
}

int64_t integer(const json& j, const std::string& field, int64_t lo, int64_t hi) {
  const json& v = need(j, field);
  if (!v.is_number_integer()) bad(field, "is not an integer");
  int64_t x = v.get<int64_t>();
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) bad(field, "is out of range");
  if (x < lo || x > hi) bad(field, "is out of range (" + std::to_string(x) + ")");
  return x;
}

std::string text(const json& j, const std::string& field) {
  const json& v = need(j, field);
  if (!v.is_string()) bad(field, "is not a string");
  return v.get<std::string>();
}

Bytes hex_bytes(const json& j, const std::string& field) {
  try {
    return from_hex(text(j, field));
  } catch (const std::invalid_argument& e) {
    if (std::string_view(e.what()).starts_with("malformed")) throw;
    bad(field, std::string("is not hex: ") + e.what());
  }
}

Hash256 display_hash(const json& j, const std::string& field) {
  std::string h = text(j, field);
  if (h.size() != 64) bad(field, "is not a 64-digit hash");
  try {
    return hash_from_display(h);
  } catch (const std::invalid_argument& e) {
    bad(field, std::string("is not hex: ") + e.what());
  }
}

}  // namespace

std::vector<Hash256> BlockTemplate::txids() const {
  std::vector<Hash256> out;
  out.reserve(transactions.size());
  for (const auto& t : transactions) out.push_back(t.txid);
  return out;
}

BlockTemplate parse_block_template(const json& gbt) {
  if (!gbt.is_object()) throw std::invalid_argument("malformed block template: not a JSON object");
  BlockTemplate t;
  t.version = int32_t(integer(gbt, "version", std::numeric_limits<int32_t>::min(), 0xffffffffll));
  t.prev_hash = display_hash(gbt, "previousblockhash");
  {
    std::string bits = text(gbt, "bits");
    if (bits.size() != 8) bad("bits", "is not 8 hex digits");
    Bytes b;
    try {
      b = from_hex(bits);
    } catch (const std::invalid_argument& e) {
      bad("bits", std::string("is not hex: ") + e.what());
    }
    t.bits = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
  }
  U256 from_bits = U256::from_compact(t.bits);
  if (from_bits.is_zero()) bad("bits", "encodes no valid target");
  if (gbt.contains("target")) {
    std::string target = text(gbt, "target");
    try {
      t.target = U256::from_hex(target);
    } catch (const std::invalid_argument& e) {
      bad("target", std::string("is not a 256-bit hex number: ") + e.what());
    }
    if (t.target != from_bits) bad("target", "does not match bits " + text(gbt, "bits"));
  } else {
    t.target = from_bits;
  }
  t.curtime = uint32_t(integer(gbt, "curtime", 0, 0xffffffffll));
  t.mintime = gbt.contains("mintime") ? uint32_t(integer(gbt, "mintime", 0, 0xffffffffll)) : t.curtime;
  t.height = uint32_t(integer(gbt, "height", 1, 0x7fffffffll));
  t.coinbase_value = integer(gbt, "coinbasevalue", 0, 21'000'000'00000000ll * 4);  // LTC: 84M coins

  const json& txs = need(gbt, "transactions");
  if (!txs.is_array()) bad("transactions", "is not an array");
  t.transactions.reserve(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    const json& e = txs[i];
    const std::string where = "transactions[" + std::to_string(i) + "]";
    if (!e.is_object()) bad(where, "is not an object");
    TemplateTx tx;
    try {
      tx.data = hex_bytes(e, "data");
      tx.txid = display_hash(e, "txid");
      tx.hash = e.contains("hash") ? display_hash(e, "hash") : tx.txid;
      if (e.contains("fee")) tx.fee = integer(e, "fee", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      if (e.contains("weight")) tx.weight = integer(e, "weight", 0, std::numeric_limits<int64_t>::max());
    } catch (const std::invalid_argument& err) {
      throw std::invalid_argument(std::string(err.what()) + " in " + where);
    }
    if (tx.data.size() < 10) bad(where + ".data", "is too short for a transaction");
    t.transactions.push_back(std::move(tx));
  }

  if (gbt.contains("default_witness_commitment")) {
    Bytes c = hex_bytes(gbt, "default_witness_commitment");
    // OP_RETURN, push 36, aa21a9ed, 32-byte commitment.
    if (c.size() < 38 || c[0] != 0x6a || c[1] != 0x24 || c[2] != 0xaa || c[3] != 0x21 || c[4] != 0xa9 || c[5] != 0xed)
      bad("default_witness_commitment", "is not a witness commitment script (6a24aa21a9ed...)");
    t.witness_commitment = std::move(c);
  }
  if (gbt.contains("mweb")) {
    Bytes m = hex_bytes(gbt, "mweb");
    if (m.empty()) bad("mweb", "is empty");
    t.mweb = std::move(m);
  }
  if (gbt.contains("longpollid")) t.longpollid = text(gbt, "longpollid");
  for (const char* list : {"rules", "mutable"}) {
    if (!gbt.contains(list)) continue;
    const json& v = gbt[list];
    if (!v.is_array()) bad(list, "is not an array");
    auto& out = std::string_view(list) == "rules" ? t.rules : t.mutable_fields;
    for (const auto& r : v) {
      if (!r.is_string()) bad(list, "holds a non-string");
      out.push_back(r.get<std::string>());
    }
  }
  if (gbt.contains("sigoplimit")) t.sigop_limit = integer(gbt, "sigoplimit", 0, std::numeric_limits<int64_t>::max());
  if (gbt.contains("sizelimit")) t.size_limit = integer(gbt, "sizelimit", 0, std::numeric_limits<int64_t>::max());
  if (gbt.contains("weightlimit")) t.weight_limit = integer(gbt, "weightlimit", 0, std::numeric_limits<int64_t>::max());
  return t;
}

}  // namespace otedama::chain
