// chain: Bitcoin-family coin daemons and block building. Coin parameters, payout addresses,
// a JSON-RPC client for Bitcoin-Core-style daemons (bitcoind, litecoind), block templates,
// the coinbase (split for Stratum around the extranonce), merkle branches, 80-byte headers
// and full blocks for submitblock. It knows nothing of pools, miners or shares.
//
// Byte orders. Every Hash256 here is in INTERNAL order: the bytes as they are hashed and
// serialized (sha256d output order). RPC and explorers show hashes reversed ("display"
// order); convert with display_hex() / hash_from_display(). Merkle branches, txids in
// templates and the previous-block hash in a Job are all internal order.
//
// Typical flow (what a pool does per template and per share):
//   auto params = coin_params(Coin::litecoin, network_from_chain(rpc.get_blockchain_info().chain));
//   Bytes payout = address_to_script(config_address, params);        // once, at start
//   BlockTemplate tpl = rpc.get_block_template(params.gbt_rules);
//   CoinbaseOptions cb;  cb.outputs = {{tpl.coinbase_value, payout}};  cb.tag = to_bytes("/otedama/");
//   Job job = make_job(tpl, cb);
//   // Stratum mining.notify: job.coinbase.coinb1, coinb2, job.merkle_branch, version, bits, ntime
//   Header80 h = job_header(job, en1, en2, ntime, nonce, version);     // per submitted share
//   if (pow <= tpl.target) rpc.submit_block(serialize_block(tpl, h, job.coinbase.assemble(en1, en2)));
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/core.h"

namespace otedama::chain {

// ---- coins and networks ------------------------------------------------------------------

enum class Coin { bitcoin, litecoin };
enum class Network { main, test, regtest };

struct CoinParams {
  Coin coin = Coin::bitcoin;
  Network network = Network::main;
  std::string name;                    // "litecoin"
  std::vector<uint8_t> p2pkh_versions;  // Base58Check version bytes (the first is the canonical one)
  std::vector<uint8_t> p2sh_versions;   // litecoin accepts its legacy value too (main 50 and 5; test 58 and 196)
  std::string bech32_hrp;               // bc / tb / bcrt, ltc / tltc / rltc
  std::string mweb_hrp;                 // litecoin's MWEB stealth addresses ("ltcmweb", "tmweb"); "" for bitcoin
  std::string algorithm;                // crypto::make_algorithm name: "sha256d" or "scrypt"
  U256 diff1_target;                    // Stratum difficulty 1: 0x00000000ffff00.. (sha256d), x65536 for scrypt
  uint32_t coinbase_maturity = 100;     // confirmations before a coinbase output can be spent
  std::vector<std::string> gbt_rules;   // what getblocktemplate must be called with
};

// The parameters of one coin on one network (static storage; never throws).
const CoinParams& coin_params(Coin coin, Network network);
// "bitcoin" | "litecoin" (case-sensitive); std::invalid_argument otherwise.
Coin coin_from_string(std::string_view name);
std::string_view to_string(Coin coin);
std::string_view to_string(Network network);  // "main", "test", "regtest"
// getblockchaininfo's "chain": "main", "test", "regtest"; bitcoind's "signet" and "testnet4"
// use the test network's address formats and map to Network::test. Others: invalid_argument.
Network network_from_chain(std::string_view chain);

// ---- byte helpers --------------------------------------------------------------------------

// Display (reversed) hex of an internal-order hash, as RPC shows it; and back.
std::string display_hex(const Hash256& internal);
Hash256 hash_from_display(std::string_view display_hex);  // invalid_argument unless 64 hex digits
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Bitcoin serialization primitives (appended to `out`).
void append_varint(Bytes& out, uint64_t n);  // CompactSize
void append_le32(Bytes& out, uint32_t v);
void append_le64(Bytes& out, uint64_t v);
// A minimal script data push (direct, OP_PUSHDATA1/2/4 by length).
void append_push(Bytes& out, ByteSpan data);
// `CScript() << n` for a non-negative number: 0 -> OP_0, 1..16 -> OP_1..OP_16, otherwise a
// minimal little-endian CScriptNum push (102 -> 01 66, 128 -> 02 80 00, 601 -> 02 59 02).
// This is the BIP34 height encoding Core checks (exact bytes, from height 500 on LTC regtest).
Bytes script_number(int64_t n);

// ---- addresses -------------------------------------------------------------------------------

// Base58 (Bitcoin alphabet). decode: invalid_argument naming the first bad character.
std::string base58_encode(ByteSpan data);
Bytes base58_decode(std::string_view text);
// Base58Check: payload (version byte included) + 4-byte sha256d checksum.
std::string base58check_encode(ByteSpan payload);
Bytes base58check_decode(std::string_view text);  // invalid_argument: bad char, too short, bad checksum

enum class Bech32Encoding { bech32, bech32m };
struct Bech32Data {
  Bech32Encoding encoding = Bech32Encoding::bech32;
  std::string hrp;            // lower case
  std::vector<uint8_t> data;  // 5-bit values, checksum removed
};
// BIP173/BIP350 string rules: 8..90 chars (max_length), printable ASCII, one case, checksum of
// either kind. invalid_argument with the reason otherwise.
Bech32Data bech32_decode(std::string_view text, size_t max_length = 90);
std::string bech32_encode(Bech32Encoding encoding, std::string_view hrp, const std::vector<uint8_t>& data5);

struct SegwitProgram {
  int version = 0;  // 0..16
  Bytes program;    // 2..40 bytes (v0: 20 or 32)
};
// Segwit address for `hrp`: v0 must be Bech32, v1+ Bech32m (BIP350). invalid_argument otherwise.
SegwitProgram decode_segwit_address(std::string_view hrp, std::string_view address);
std::string encode_segwit_address(std::string_view hrp, const SegwitProgram& program);

enum class AddressType { p2pkh, p2sh, witness };
struct Address {
  AddressType type = AddressType::p2pkh;
  int witness_version = -1;  // witness only
  Bytes hash;                // 20-byte hash (p2pkh, p2sh) or the witness program
  Bytes script_pubkey;       // what a transaction output pays to
};

// Decodes a payout address for the coin and network in `params`. Throws std::invalid_argument
// with a message saying what is wrong: bad checksum, invalid character, address of another
// network or coin (named), unknown version byte, bad witness program, or an MWEB address
// (litecoin stealth addresses cannot receive coinbase outputs).
Address decode_address(std::string_view address, const CoinParams& params);
Bytes address_to_script(std::string_view address, const CoinParams& params);
// The same check without an exception: nullopt when valid, else the reason.
std::optional<std::string> address_error(std::string_view address, const CoinParams& params);

// ---- block templates ----------------------------------------------------------------------------

struct TemplateTx {
  Bytes data;     // serialized as it goes into the block (witness and MWEB flags included)
  Hash256 txid;   // internal order (reversed from the RPC hex)
  Hash256 hash;   // wtxid, internal order
  int64_t fee = 0;
  int64_t weight = 0;
};

// A parsed getblocktemplate answer. Transactions keep the template's order: with MWEB active
// the last one is the HogEx and `mweb` holds the serialized MWEB block.
struct BlockTemplate {
  int32_t version = 0;   // use as given (carries BIP9 signalling bits)
  Hash256 prev_hash{};   // internal order
  uint32_t bits = 0;
  U256 target;           // the network target
  uint32_t curtime = 0, mintime = 0;
  uint32_t height = 0;
  int64_t coinbase_value = 0;  // subsidy + fees, satoshis
  std::vector<TemplateTx> transactions;
  std::optional<Bytes> witness_commitment;  // complete output script (6a24aa21a9ed...)
  std::optional<Bytes> mweb;                // litecoin MWEB block, when present
  std::string longpollid;                   // "" when the daemon offered none
  std::vector<std::string> rules;
  std::vector<std::string> mutable_fields;  // "time", "transactions", "prevblock", ...
  int64_t sigop_limit = 0, size_limit = 0, weight_limit = 0;

  std::vector<Hash256> txids() const;  // the template transactions' txids, internal order
};

// Throws std::invalid_argument naming the field when something is missing, of the wrong type,
// or out of range (e.g. bad hex, a negative coinbasevalue, a target above what bits say).
BlockTemplate parse_block_template(const nlohmann::json& gbt);

// ---- coinbase -------------------------------------------------------------------------------

struct TxOut {
  int64_t value = 0;  // satoshis
  Bytes script;       // scriptPubKey
};

struct CoinbaseOptions {
  std::vector<TxOut> outputs;      // payouts, in this order; may be thousands (P2P share chains)
  Bytes tag;                       // pool tag, pushed after the extranonce (e.g. "/otedama/")
  size_t extranonce1_size = 4;     // per connection (Stratum subscribe)
  size_t extranonce2_size = 8;     // chosen by the miner
};

// The coinbase transaction split for Stratum, in the NON-witness serialization:
//   tx = coinb1 || extranonce1 || extranonce2 || coinb2,   txid = sha256d(tx)
// scriptSig = BIP34 height, push(extranonce1 || extranonce2), push(tag) (if any).
struct Coinbase {
  Bytes coinb1, coinb2;
  size_t extranonce1_size = 0, extranonce2_size = 0;

  // invalid_argument when the extranonce lengths differ from the sizes above.
  Bytes assemble(ByteSpan extranonce1, ByteSpan extranonce2) const;
  Hash256 txid(ByteSpan extranonce1, ByteSpan extranonce2) const;
};

// Version 1, one input (null prevout, sequence ffffffff), locktime 0. Outputs: options.outputs,
// then the witness commitment (value 0) when the template has one. Throws invalid_argument when
// the scriptSig would leave 2..100 bytes, an extranonce size exceeds 32, an output value is
// negative, or the outputs pay more than coinbase_value in total.
Coinbase build_coinbase(const BlockTemplate& tpl, const CoinbaseOptions& options);
// Lower-level form: the same from the parts of a template.
Coinbase build_coinbase(uint32_t height, int64_t coinbase_value, const std::optional<Bytes>& witness_commitment,
                        const CoinbaseOptions& options);

// The segwit serialization of a coinbase built above: marker/flag 0001 and one 32-byte zero
// witness item (the reserved value the commitment uses). submitblock adds it itself when absent;
// getblocktemplate "proposal" mode needs it.
Bytes coinbase_with_witness(ByteSpan coinbase_tx);

// ---- merkle -----------------------------------------------------------------------------------

// Bitcoin merkle root of leaves in internal order (odd levels duplicate their last entry).
// Empty input: invalid_argument.
Hash256 merkle_root(std::span<const Hash256> leaves);
// The Stratum branch for the coinbase (leaf 0) given the OTHER transactions' txids, in block
// order: the siblings from the bottom level up. Empty when the block has only the coinbase.
std::vector<Hash256> merkle_branch(std::span<const Hash256> txids_after_coinbase);
// Root from the coinbase txid and a branch: h = sha256d(h || step) for each step.
Hash256 merkle_root_from_branch(const Hash256& coinbase_txid, std::span<const Hash256> branch);

// ---- headers, jobs, blocks ----------------------------------------------------------------------

using Header80 = std::array<uint8_t, 80>;

struct BlockHeader {
  int32_t version = 0;
  Hash256 prev_hash{};    // internal order
  Hash256 merkle_root{};  // internal order
  uint32_t time = 0, bits = 0, nonce = 0;

  Header80 serialize() const;                 // all fields little-endian
  static BlockHeader parse(ByteSpan bytes);   // exactly 80 bytes, else invalid_argument
};
// Block id: sha256d(header), internal order (display_hex() for the RPC form). Not the PoW.
Hash256 block_hash(const Header80& header);

// Everything a Stratum job needs, made once per template (or per template + payout set).
struct Job {
  uint32_t height = 0;
  int32_t version = 0;
  Hash256 prev_hash{};  // internal order
  uint32_t bits = 0;
  uint32_t ntime = 0;   // max(curtime, mintime)
  U256 target;          // network target: a share at or below it is a block
  Coinbase coinbase;
  std::vector<Hash256> merkle_branch;
};
Job make_job(const BlockTemplate& tpl, const CoinbaseOptions& options);

// The header a miner hashed: coinbase from the extranonces, merkle root from the branch, and
// the submitted ntime, nonce and (possibly rolled) version.
Header80 job_header(const Job& job, ByteSpan extranonce1, ByteSpan extranonce2, uint32_t ntime, uint32_t nonce,
                    int32_t version);

// The block for submitblock: header, varint(1 + n), coinbase, each template tx's data, and
// with MWEB the byte 01 followed by the template's mweb bytes.
Bytes serialize_block(const BlockTemplate& tpl, const Header80& header, ByteSpan coinbase_tx);

// ---- JSON-RPC client --------------------------------------------------------------------------

// Every failure of the client derives from ChainError.
struct ChainError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The daemon could not be reached or gave no usable answer: connection refused or reset,
// timeout, an HTTP status without a JSON-RPC body (e.g. 503 work queue full), non-JSON.
struct TransportError : ChainError {
  using ChainError::ChainError;
};
// HTTP 401/403: wrong user/password or cookie.
struct AuthError : ChainError {
  using ChainError::ChainError;
};
// The daemon answered with a JSON-RPC error object (e.g. -8 bad rules, -9 no peers,
// -10 initial block download, -28 warming up, -22 block decode failed).
struct RpcError : ChainError {
  RpcError(std::string method, int code, std::string message);
  std::string method;
  int code;
  std::string message;  // the daemon's text
};

struct RpcOptions {
  std::string url = "http://127.0.0.1:8332/";  // http only; a path such as /wallet/pool is kept
  std::string user, password;                  // or:
  std::string cookie_file;                     // "__cookie__:hex"; re-read after an auth failure
  std::chrono::milliseconds timeout{30000};    // default per-call limit (connect + send + answer)
  std::chrono::milliseconds longpoll_timeout{std::chrono::minutes(10)};
};

struct ChainInfo {
  std::string chain;  // "main", "test", "regtest"
  uint64_t blocks = 0, headers = 0;
  Hash256 best_block_hash{};  // internal order
  bool initial_block_download = false;
  nlohmann::json raw;
};

struct AddressCheck {
  bool valid = false;
  Bytes script_pubkey;  // empty when invalid
  std::string error;    // the daemon's reason, when it gives one
};

// One keep-alive HTTP/1.1 connection for ordinary calls and a second one for long polls, each
// behind its own mutex: every method is thread-safe, and a long poll never blocks other calls.
// A call on a connection that the daemon closed while idle is retried once on a fresh one.
class RpcClient {
 public:
  // invalid_argument for a URL that is not http://host[:port][/path] or with no credentials.
  explicit RpcClient(RpcOptions options);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Any method; returns "result". timeout 0 = options.timeout.
  nlohmann::json call(std::string_view method, nlohmann::json params = nlohmann::json::array(),
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // With a longpollid, the call runs on the long-poll connection and returns when the daemon's
  // template changes (or options.longpoll_timeout passes: TransportError).
  nlohmann::json get_block_template_json(const std::vector<std::string>& rules, const std::string& longpollid = "");
  // A template that parse_block_template() refuses is reported as TransportError (the daemon
  // sent garbage), with the field named.
  BlockTemplate get_block_template(const std::vector<std::string>& rules, const std::string& longpollid = "");
  // Aborts a long poll in flight (it throws TransportError "cancelled"); for shutdown.
  void cancel_longpoll();

  // nullopt: accepted. Otherwise the daemon's reason ("high-hash", "duplicate", "inconclusive", ...).
  std::optional<std::string> submit_block(ByteSpan block);
  ChainInfo get_blockchain_info();
  nlohmann::json get_block(const Hash256& hash, int verbosity = 1);
  Bytes get_block_raw(const Hash256& hash);  // verbosity 0
  uint64_t get_block_count();
  Hash256 get_best_block_hash();
  AddressCheck validate_address(std::string_view address);

  const RpcOptions& options() const { return options_; }

 private:
  struct Connection;
  nlohmann::json call_on(Connection& c, std::string_view method, const nlohmann::json& params,
                         std::chrono::milliseconds timeout);
  std::string authorization();

  RpcOptions options_;
  std::string host_, port_, target_;
  std::unique_ptr<Connection> main_, longpoll_;
  std::mutex auth_mutex_;
  std::string auth_header_;  // "Basic ..."
};

}  // namespace otedama::chain
#include "chain/monero.h"
