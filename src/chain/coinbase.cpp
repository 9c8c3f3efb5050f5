// The coinbase transaction, split around the extranonce for Stratum.
#include "chain/chain.h"

#include <algorithm>

#include "crypto/sha256.h"

namespace otedama::chain {

namespace {

constexpr size_t kMaxExtranonce = 32;

size_t varint_size(uint64_t n) { return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9; }

void append_output(Bytes& out, const TxOut& o) {
  append_le64(out, uint64_t(o.value));
  append_varint(out, o.script.size());
  out.insert(out.end(), o.script.begin(), o.script.end());
}

}  // namespace

Coinbase build_coinbase(uint32_t height, int64_t coinbase_value, const std::optional<Bytes>& witness_commitment,
                        const CoinbaseOptions& options) {
  if (options.extranonce1_size > kMaxExtranonce || options.extranonce2_size > kMaxExtranonce)
    throw std::invalid_argument("extranonce1 and extranonce2 may be at most 32 bytes each");
  const size_t extranonce = options.extranonce1_size + options.extranonce2_size;

  // scriptSig: BIP34 height, push(extranonce1 || extranonce2), push(tag).
  Bytes head = script_number(height);
  head.push_back(uint8_t(extranonce));  // direct push opcode (extranonce <= 64 < 0x4c)
  Bytes tail;
  if (!options.tag.empty()) append_push(tail, options.tag);
  const size_t script_size = head.size() + extranonce + tail.size();
  if (script_size < 2 || script_size > 100)
    throw std::invalid_argument("coinbase scriptSig would be " + std::to_string(script_size) +
                                " bytes; consensus allows 2..100 (shorten the pool tag or the extranonce)");

  int64_t total = 0;
  size_t outputs_size = 0;
  for (size_t i = 0; i < options.outputs.size(); ++i) {
    const TxOut& o = options.outputs[i];
    if (o.value < 0) throw std::invalid_argument("coinbase output " + std::to_string(i) + " has a negative value");
    if (o.value > coinbase_value - total)
      throw std::invalid_argument("coinbase outputs pay more than the template's coinbase value " +
                                  std::to_string(coinbase_value));
    total += o.value;
    outputs_size += 8 + varint_size(o.script.size()) + o.script.size();
  }
  const size_t n_outputs = options.outputs.size() + (witness_commitment ? 1 : 0);
  if (n_outputs == 0) throw std::invalid_argument("coinbase needs at least one output");

  Coinbase cb;
  cb.extranonce1_size = options.extranonce1_size;
  cb.extranonce2_size = options.extranonce2_size;
  cb.coinb1.reserve(4 + 1 + 36 + 1 + head.size());
  append_le32(cb.coinb1, 1);                       // version
  cb.coinb1.push_back(1);                          // one input
  cb.coinb1.insert(cb.coinb1.end(), 32, 0x00);     // null prevout hash
  append_le32(cb.coinb1, 0xffffffff);              // prevout index
  append_varint(cb.coinb1, script_size);
  cb.coinb1.insert(cb.coinb1.end(), head.begin(), head.end());

  cb.coinb2.reserve(tail.size() + 4 + 9 + outputs_size + (witness_commitment ? 9 + witness_commitment->size() + 8 : 0) + 4);
  cb.coinb2.insert(cb.coinb2.end(), tail.begin(), tail.end());
  append_le32(cb.coinb2, 0xffffffff);              // sequence
  append_varint(cb.coinb2, n_outputs);
  for (const TxOut& o : options.outputs) append_output(cb.coinb2, o);
  if (witness_commitment) append_output(cb.coinb2, TxOut{0, *witness_commitment});
  append_le32(cb.coinb2, 0);                       // locktime
  return cb;
}

Coinbase build_coinbase(const BlockTemplate& tpl, const CoinbaseOptions& options) {
  return build_coinbase(tpl.height, tpl.coinbase_value, tpl.witness_commitment, options);
}

Bytes Coinbase::assemble(ByteSpan extranonce1, ByteSpan extranonce2) const {
  if (extranonce1.size() != extranonce1_size || extranonce2.size() != extranonce2_size)
    throw std::invalid_argument("extranonce sizes " + std::to_string(extranonce1.size()) + "+" +
                                std::to_string(extranonce2.size()) + " do not match the coinbase's " +
                                std::to_string(extranonce1_size) + "+" + std::to_string(extranonce2_size));
  Bytes tx;
  tx.reserve(coinb1.size() + extranonce1.size() + extranonce2.size() + coinb2.size());
  tx.insert(tx.end(), coinb1.begin(), coinb1.end());
  tx.insert(tx.end(), extranonce1.begin(), extranonce1.end());
  tx.insert(tx.end(), extranonce2.begin(), extranonce2.end());
  tx.insert(tx.end(), coinb2.begin(), coinb2.end());
  return tx;
}

Hash256 Coinbase::txid(ByteSpan extranonce1, ByteSpan extranonce2) const {
  return crypto::sha256d(assemble(extranonce1, extranonce2));
}

Bytes coinbase_with_witness(ByteSpan tx) {
  // version(4) | 00 01 | inputs+outputs | witness: 1 item of 32 zero bytes | locktime(4)
  if (tx.size() < 4 + 1 + 41 + 1 + 4 || tx[4] == 0x00)
    throw std::invalid_argument("coinbase_with_witness: not a non-witness transaction");
  // Sized up front and filled by offset (GCC 12 misreports push_back after insert here).
  Bytes out(tx.size() + 2 + 34, 0x00);
  uint8_t* p = out.data();
  std::copy(tx.begin(), tx.begin() + 4, p);
  p[4] = 0x00;  // marker
  p[5] = 0x01;  // flag
  std::copy(tx.begin() + 4, tx.end() - 4, p + 6);
  p += 6 + (tx.size() - 8);
  p[0] = 1;   // one witness item
  p[1] = 32;  // of 32 bytes, all zero (already)
  std::copy(tx.end() - 4, tx.end(), p + 34);
  return out;
}

}  // namespace otedama::chain
