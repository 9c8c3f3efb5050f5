// chain/monero: the Monero part of the chain module. Monero's own serialization (varints,
// block blobs, the miner transaction, tree_hash), addresses (block-wise Base58 with a Keccak
// checksum), block templates with a per-job extra nonce, Stratum targets, and a JSON-RPC
// client for monerod. It knows nothing of pools, miners or shares. Verified against monerod
// 0.18 regtest (docs: shared/docs/real-nodes.md §2, shared/docs/xmr_regtest_block.py).
//
// Byte order: Monero hashes are shown in RPC in the order they are hashed (no reversal, unlike
// Bitcoin): hash_from_hex(rpc_hex) gives the bytes as used here.
//
// Typical flow (what a pool does per template and per share):
//   monero::RpcClient rpc({.url = "http://127.0.0.1:18081"});
//   monero::check_mining_address(payout, monero::NetType::mainnet);      // once, at start
//   monero::BlockTemplate tpl = rpc.get_block_template(payout, 8);        // reserve 8 bytes
//   monero::BlockWork work = monero::make_work(tpl, extra_nonce);         // per job / connection
//   // Stratum job: blob = to_hex(work.hashing_blob), target = stratum_target_hex(diff),
//   //              seed_hash = to_hex(tpl.seed_hash), height = tpl.height
//   Bytes hb = work.hashing_blob_with_nonce(nonce);                        // per submitted share
//   Hash256 pow = crypto::randomx_hash(tpl.seed_hash, hb);
//   if (monero::hash_meets_difficulty(pow, tpl.difficulty)) rpc.submit_block(work.block_with_nonce(nonce));
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chain/chain.h"
#include "core/core.h"

namespace otedama::chain::monero {

// ---- serialization ----------------------------------------------------------------------------

// Monero varint: 7 bits per byte, least significant group first, high bit = more follows.
void append_varint(Bytes& out, uint64_t n);
Bytes varint(uint64_t n);
// Reads a varint at data[pos] and advances pos. invalid_argument when truncated, longer than a
// uint64_t allows, or not canonical (a last byte of 0 after a continuation, as Monero refuses).
uint64_t read_varint(ByteSpan data, size_t& pos);

// cn_fast_hash: legacy Keccak-256 (0x01 padding).
Hash256 cn_fast_hash(ByteSpan data);

// Monero's tree_hash (crypto/tree-hash.c) over 1..n hashes. NOT the Bitcoin merkle root: with n
// not a power of two the first 2*cnt-n leaves pass up unpaired (cnt = largest power of two < n).
// Empty input: invalid_argument.
Hash256 tree_hash(std::span<const Hash256> hashes);

// ---- block blobs ---------------------------------------------------------------------------------

struct MinerOutput {
  uint64_t amount = 0;
  Hash256 key{};                   // one-time output public key
  std::optional<uint8_t> view_tag;  // txout_to_tagged_key (target type 03, from HF15); none for type 02
};

// Where things are in a block blob (as monerod's blocktemplate_blob / submit_block use it):
//   header:   varint major, varint minor, varint timestamp, 32-byte prev id, 4-byte LE nonce
//   miner tx: prefix (varint version, varint unlock_time, vin [ff varint height], vout, extra)
//             + (v2) rct type byte, which must be 00 (RCTTypeNull) for a miner tx
//   varint n, n x 32-byte transaction hashes
struct BlockBlob {
  uint64_t major_version = 0, minor_version = 0, timestamp = 0;
  Hash256 prev_id{};
  uint32_t nonce = 0;
  size_t nonce_offset = 0;  // computed from the header varints (39 on today's chain)
  size_t header_size = 0;   // = the miner tx's offset

  uint64_t miner_tx_version = 0, unlock_time = 0;
  uint64_t height = 0;             // from the miner tx's txin_gen
  std::vector<MinerOutput> outputs;
  size_t extra_offset = 0;         // first byte of tx extra (after its length varint)
  size_t extra_size = 0;
  size_t miner_tx_prefix_end = 0;  // end of the prefix (= start of the rct base for v2)
  size_t miner_tx_end = 0;         // end of the miner tx

  std::vector<Hash256> tx_hashes;  // the other transactions, block order
};

// Parses a block blob. invalid_argument (saying what and where) on anything unexpected: truncated
// data, a miner tx input other than txin_gen, an unknown output target type, a non-zero rct type,
// trailing bytes.
BlockBlob parse_block_blob(ByteSpan blob);

// The miner tx hash. v1: keccak(tx). v2 (RCT type 0):
// keccak(keccak(prefix) || keccak(rct base = 00) || 32 zero bytes (no prunable part)).
Hash256 miner_tx_hash(ByteSpan blob, const BlockBlob& layout);
// The hashing blob (the PoW input): header || tree_hash([miner tx] + tx hashes) || varint(1 + n).
Bytes hashing_blob(ByteSpan blob, const BlockBlob& layout);
// Block id = keccak(varint(len(hashing_blob)) || hashing_blob).
Hash256 block_id_from_hashing_blob(ByteSpan hashing_blob);
// Block id of a whole block blob, with Monero's one exception: mainnet block 202612 (whose tx tree
// overflowed in 2014) keeps its historical id bbd604d2... when keccak(block blob) is 3a8a2b3a...;
// irrelevant on regtest, kept so ids match monerod everywhere.
Hash256 block_id(ByteSpan block_blob, const BlockBlob& layout);

// ---- targets and share checks -----------------------------------------------------------------

// PoW check: LE256(hash) * difficulty < 2^256 (monerod's check_hash). difficulty 0: false.
bool hash_meets_difficulty(const Hash256& pow_hash, const U256& difficulty);
bool hash_meets_difficulty(const Hash256& pow_hash, uint64_t difficulty);

// Monero-Stratum "target" for a pool difficulty, as XMRig expects: the little-endian hex of the
// truncated target. 8 digits: LE32(floor((2^32-1)/diff)); 16 digits: LE64(floor((2^64-1)/diff)).
// diff 0 or digits other than 8/16: invalid_argument. (XMRig derives diff = (2^64-1)/target64,
// 8-digit targets being the top 32 bits.) Example: diff 20, 16 digits -> "cccccccccccccc0c".
std::string stratum_target_hex(uint64_t difficulty, int digits = 8);
// What a miner derives from a target (8 or 16 hex digits): floor((2^64-1) / target64) where an
// 8-digit target is taken as the top 32 bits of a 64-bit one. invalid_argument on bad hex, a
// wrong length or a zero target.
uint64_t difficulty_from_stratum_target(std::string_view target_hex);

// ---- addresses --------------------------------------------------------------------------------

// Monero's Base58: 8-byte blocks, each to 11 characters (the last, shorter block to 2..10), no
// leading-zero rule. NOT Bitcoin's Base58. decode: invalid_argument for a bad character, an
// impossible block length, or a block value that overflows its byte count.
std::string base58_encode(ByteSpan data);
Bytes base58_decode(std::string_view text);

// Regtest ("fakechain") uses mainnet prefixes.
enum class NetType { mainnet, testnet, stagenet };
std::string_view to_string(NetType net);  // "mainnet", "testnet", "stagenet"
// get_info's "nettype": "mainnet", "testnet", "stagenet", "fakechain" (-> mainnet); else invalid_argument.
NetType nettype_from_string(std::string_view name);

enum class AddressKind { standard, integrated, subaddress };
std::string_view to_string(AddressKind kind);

// Base58 address prefixes (varints): mainnet 18 / 19 / 42, testnet 53 / 54 / 63, stagenet 24 / 25 / 36.
struct AddressPrefixes {
  uint64_t standard, integrated, subaddress;
};
const AddressPrefixes& address_prefixes(NetType net);

struct MoneroAddress {
  NetType net = NetType::mainnet;
  AddressKind kind = AddressKind::standard;
  Hash256 spend_public_key{};
  Hash256 view_public_key{};
  std::optional<std::array<uint8_t, 8>> payment_id;  // integrated only
};

// Decodes any network's address: base58(varint prefix || spend key || view key [|| 8-byte payment
// id] || first 4 bytes of keccak of the rest). invalid_argument with the reason: invalid character,
// bad length, bad checksum (mistyped?), unknown prefix, or a key that is not a valid ed25519
// point (as monerod's check_key refuses).
MoneroAddress decode_address(std::string_view address);
// The same, and refuses an address of another network, naming both.
MoneroAddress decode_address(std::string_view address, NetType expected);
std::string encode_address(const MoneroAddress& address);
// For a block template's wallet_address (the coinbase): a standard address of `net`. Subaddresses
// are refused (monerod: -12 "Mining to subaddress is not supported yet"); integrated addresses too
// (the payment id would be dropped silently). invalid_argument with the reason.
MoneroAddress check_mining_address(std::string_view address, NetType net);
// The same checks without an exception: nullopt when usable, else the reason.
std::optional<std::string> address_error(std::string_view address, NetType net);
std::optional<std::string> mining_address_error(std::string_view address, NetType net);
// Is this 32-byte compressed ed25519 point decodable (ge_frombytes_vartime)?
bool is_valid_public_key(const Hash256& key);

// ---- block templates and work -------------------------------------------------------------------

// A parsed get_block_template answer.
struct BlockTemplate {
  Bytes blob;                // blocktemplate_blob (reserved area zero)
  Bytes hashing_blob;        // blockhashing_blob as the daemon sent it
  BlockBlob layout;          // of `blob`
  U256 difficulty;           // wide_difficulty when present, else difficulty
  uint64_t height = 0;
  uint64_t expected_reward = 0;  // atomic units (1e-12 XMR)
  Hash256 prev_hash{};
  Hash256 seed_hash{};           // RandomX key for this template
  std::optional<Hash256> next_seed_hash;  // the key of the next epoch once known ("" -> none)
  uint64_t seed_height = 0;
  size_t reserved_offset = 0;    // the extra-nonce area inside the miner tx extra
  size_t reserve_size = 0;       // as asked for (monerod does not echo it)
};

// Checks every field (presence, type, hex, sizes), that blob parses, that its height and prev id
// agree with the JSON, and that the reserved area lies inside the miner tx extra and is zero.
// invalid_argument naming the field otherwise.
BlockTemplate parse_block_template(const nlohmann::json& result, size_t reserve_size);

// One job: the template with an extra nonce written into the reserved area, and the recomputed
// hashing blob. The 4-byte nonce sits at nonce_offset in both blobs.
struct BlockWork {
  Bytes block_blob;
  Bytes hashing_blob;
  size_t nonce_offset = 0;

  Bytes hashing_blob_with_nonce(uint32_t nonce) const;  // what the miner hashed
  Bytes block_with_nonce(uint32_t nonce) const;         // what submit_block takes
};
// extra_nonce: at most tpl.reserve_size bytes (shorter: the rest stays zero); invalid_argument
// otherwise. With an empty or all-zero extra nonce, hashing_blob equals the daemon's.
BlockWork make_work(const BlockTemplate& tpl, ByteSpan extra_nonce);
// Writes the little-endian nonce at `offset` (bounds-checked).
void set_nonce(Bytes& blob, size_t offset, uint32_t nonce);

// ---- monerod JSON-RPC client --------------------------------------------------------------------

// Failures use the chain module's types: TransportError (unreachable, timeout, non-JSON, HTTP
// error without a JSON-RPC body, malformed answer), AuthError (HTTP 401 after the digest
// exchange), RpcError (the daemon's JSON-RPC error object, e.g. -4 bad address, -12 subaddress;
// or a result whose "status" is not "OK": code 0, message = the status).
struct RpcOptions {
  std::string url = "http://127.0.0.1:18081";  // http://host:port; "/json_rpc" is appended
  std::string user, password;                  // monerod --rpc-login: HTTP digest auth (MD5, qop=auth)
  std::chrono::milliseconds timeout{30000};    // per call (connect + send + answer)
};

struct DaemonInfo {
  uint64_t height = 0;          // blocks in the chain (tip height + 1)
  uint64_t target_height = 0;
  Hash256 top_block_hash{};
  U256 difficulty;
  std::string nettype;          // "mainnet", "testnet", "stagenet", "fakechain"
  bool offline = false, synchronized = false, busy_syncing = false;
  nlohmann::json raw;
};

struct BlockHeader {
  uint64_t height = 0, timestamp = 0, major_version = 0, minor_version = 0;
  uint32_t nonce = 0;
  Hash256 hash{}, prev_hash{};
  U256 difficulty;
  uint64_t reward = 0, depth = 0, num_txes = 0;
  bool orphan = false;
  Hash256 miner_tx_hash{};
  nlohmann::json raw;
};

// One keep-alive HTTP/1.1 connection behind a mutex: every method is thread-safe (calls are
// serialized). A call on a connection the daemon closed while idle is retried once, fresh.
class RpcClient {
 public:
  // invalid_argument for a URL that is not http://host:port[/]
  explicit RpcClient(RpcOptions options);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // POST /json_rpc {"method": ..., "params": ...}; returns "result". timeout 0 = options.timeout.
  nlohmann::json call(std::string_view method, nlohmann::json params = nlohmann::json::object(),
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // The daemon's other endpoints ("/get_transaction_pool", "/stop_daemon", ...): the JSON body.
  nlohmann::json call_path(std::string_view path, nlohmann::json body = nlohmann::json::object(),
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  nlohmann::json get_block_template_json(std::string_view wallet_address, size_t reserve_size);
  // reserve_size 0..127 (monerod 0.18 fails above 127 although it says 255): invalid_argument otherwise. A template that
  // parse_block_template() refuses is a TransportError (the daemon sent garbage).
  BlockTemplate get_block_template(std::string_view wallet_address, size_t reserve_size);
  // nullopt: accepted. Otherwise the daemon's reason, e.g. "Block not accepted (-7)".
  std::optional<std::string> submit_block(ByteSpan block_blob);
  DaemonInfo get_info();
  BlockHeader get_last_block_header();
  BlockHeader get_block_header_by_height(uint64_t height);
  BlockHeader get_block_header_by_hash(const Hash256& hash);
  nlohmann::json get_block(uint64_t height);  // "get_block" result (blob, json, miner_tx_hash, tx_hashes)
  // Regtest only: mines `count` blocks to the address; returns the new blocks' ids.
  std::vector<Hash256> generate_blocks(uint64_t count, std::string_view wallet_address);

  const RpcOptions& options() const { return options_; }

 private:
  struct Connection;
  nlohmann::json post(std::string_view path, const std::string& what, const nlohmann::json& body,
                      std::chrono::milliseconds timeout);

  RpcOptions options_;
  std::string host_, port_;
  std::unique_ptr<Connection> conn_;
};

// ---- new-block notifications over ZMQ ----------------------------------------------------------

// monerod --zmq-pub tcp://HOST:PORT publishes "json-minimal-chain_main:{...}" for every block
// added to the main chain. A SUB socket on that topic; reconnects by itself (libzmq) when
// monerod restarts. Not thread-safe: one thread waits on it.
class ChainSubscriber {
 public:
  // endpoint: tcp://host:port. invalid_argument when libzmq refuses it.
  explicit ChainSubscriber(const std::string& endpoint);
  ~ChainSubscriber();
  ChainSubscriber(const ChainSubscriber&) = delete;
  ChainSubscriber& operator=(const ChainSubscriber&) = delete;
  // Waits up to `timeout` for notifications; returns the height of the newest block announced
  // (first_height + number of ids - 1), or nullopt when nothing (parseable) arrived.
  std::optional<uint64_t> wait(std::chrono::milliseconds timeout);

 private:
  void* context_ = nullptr;
  void* socket_ = nullptr;
};

}  // namespace otedama::chain::monero
