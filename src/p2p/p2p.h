// p2p: the decentralized pool (docs/p2p.md). A share is a full block candidate at the share
// chain's lower difficulty; its coinbase commits to the share's metadata (ShareInfo) and pays
// the PPLNS window of the share chain directly, so any share that also meets the coin's target
// is a block that pays every miner of the window and no node ever holds their money.
//
// The share does not carry its coinbase: every node rebuilds it from the ShareInfo, the chain
// (the window's payouts) and the few bytes the miner chose (extranonce), and checks that the
// merkle root in the header matches. So "the coinbase pays exactly what the chain prescribes"
// is a consequence of the header's PoW, and a share message stays a few hundred bytes whatever
// the number of payees.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "accounting/accounting.h"
#include "chain/chain.h"
#include "core/core.h"

namespace boost::asio {
class io_context;
}

namespace otedama::p2p {

using Work = accounting::Work;

// ---- network parameters -------------------------------------------------------------------------

// Everything nodes must agree on. Its hash is the network id: nodes with different parameters
// never talk (the handshake refuses them), so a test chain never mixes with another.
struct ChainParams {
  std::string name = "mainnet";                 // "mainnet", "mini", a test network's name
  chain::Coin coin = chain::Coin::litecoin;
  chain::Network network = chain::Network::main;
  uint32_t share_time = 10;                     // seconds between shares, network-wide
  uint32_t window = 2160;                       // PPLNS window, in shares (6 h at 10 s)
  uint32_t retarget_span = 30;                  // shares looked back by the retarget
  uint32_t max_target_bits = 0x1e0fffff;        // easiest share target (compact)
  // Test networks: a share is a block only when its PoW is also at or below its share target
  // >> block_shift (one share in 2^shift), whatever the coin's (trivial regtest) target says.
  uint32_t block_shift = 0;
  uint32_t fee_ppm = 0;                         // the finding node's fee, parts per million (default 0)
  int64_t min_output = 10000;                   // dust threshold, atoms: smaller payouts are redistributed
  uint32_t max_outputs = 4000;                  // coinbase payout outputs at most (window must fit)
  uint32_t max_future_seconds = 60;             // a share's time may run ahead of the receiver's clock this much

  Hash256 id() const;  // sha256d of the serialized parameters
  // invalid_argument for parameters that cannot work (window > max_outputs - 1, zero share time...).
  void validate() const;
  // Parameters for a coin network and a chain name: "mainnet" (10 s), "mini" (10 s, easier
  // floor), or a test network (any other name on regtest: 1 s shares, trivial floor, and
  // a block target so that not every share is a block; see docs/p2p.md).
  static ChainParams for_network(chain::Coin coin, chain::Network network, const std::string& name,
                                 uint32_t share_time_seconds);
};

// ---- targets and work --------------------------------------------------------------------------

// Expected hashes for a target: floor(2^256 / (target + 1)), saturated to 2^127.
Work work_from_target(const U256& target);
// The target for a work: floor(2^256 / work) - 1, at most U256::max().
U256 target_from_work(Work work);
// Bitcoin compact encoding (rounds down, as Core's GetCompact).
uint32_t to_compact(const U256& target);

// ---- shares --------------------------------------------------------------------------------------

// What the coinbase commits to (an OP_RETURN output "OTDM" || sha256d(ShareInfo || network id)).
struct ShareInfo {
  uint32_t version = 1;
  Hash256 prev_share{};  // zero: the chain's first share
  uint64_t height = 0;   // share-chain height (0 for the first share)
  uint32_t bits = 0;     // the share target, compact; must equal the chain's retarget
  uint32_t time = 0;     // unix seconds
  Bytes payout_script;   // the finder's payout script (its work is credited to it)
  Bytes fee_script;      // the finding node's fee output (empty when the network's fee is 0)

  friend bool operator==(const ShareInfo&, const ShareInfo&) = default;
};

struct Share {
  ShareInfo info;
  chain::BlockHeader header;         // the coin header the miner hashed
  uint32_t coin_height = 0;          // BIP34 height in the coinbase
  int64_t reward = 0;                // what the payout outputs add up to (template coinbase value)
  Bytes extranonce;                  // extranonce1 || extranonce2 as mined (at most 64 bytes)
  std::optional<Bytes> witness_commitment;
  std::vector<Hash256> merkle_branch;
  // Block shares only (PoW at or below the coin's target): the block's other transactions,
  // so that every node can submit the block to its own daemon.
  // The txids come from the finder's template; a node checks them against the merkle branch, and
  // its daemon checks the transactions when the block is submitted.
  std::vector<Hash256> txids;
  std::vector<Bytes> transactions;
  std::optional<Bytes> mweb;

  Hash256 hash() const;  // sha256d of the header: the share's id (internal order)
};

// The PoW value of a coin header for the chain's coin (scrypt for litecoin, sha256d for bitcoin).
U256 header_pow(chain::Coin coin, const chain::BlockHeader& header);

// Serialization (docs/p2p.md). parse_share throws std::invalid_argument on anything malformed
// or out of bounds (it never allocates more than the input's size).
Bytes serialize_share(const Share& share);
Share parse_share(ByteSpan bytes);
Bytes serialize_share_info(const ShareInfo& info);

// The coinbase tag every share carries after the extranonce.
inline constexpr std::string_view kCoinbaseTag = "/otedama-p2p/";
// The commitment output's script: OP_RETURN push36("OTDM" || sha256d(info || network id)).
Bytes commitment_script(const ShareInfo& info, const Hash256& network_id);

// ---- the window's payouts ----------------------------------------------------------------------

struct WindowShare {
  const Bytes* script = nullptr;  // payout script
  Work work = 0;
};

// The payout outputs a share's coinbase must carry, in order (fee output first when the fee is
// not 0, then one output per payee sorted by script bytes), before the commitment and the
// witness commitment. `window` is the window's shares oldest first, the new share last.
// Rules (docs/p2p.md): weights = each script's work in the window; fee = floor(reward * fee_ppm
// / 1e6) to info.fee_script; the rest split by accounting::split; payees under min_output are
// dropped and the split redone over the others (their work still counts for the next blocks);
// the rounding remainder goes to the payee with the most work (ties: smallest script). No
// payee left: the finder takes everything but the fee.
std::vector<chain::TxOut> window_payouts(std::span<const WindowShare> window, int64_t reward, const ShareInfo& info,
                                         const ChainParams& params);

// The coinbase options of a share: the payouts, then the commitment output; the witness
// commitment follows (build_coinbase adds it). The pool builds Stratum jobs from these.
chain::CoinbaseOptions share_coinbase_options(const ShareInfo& info, std::span<const chain::TxOut> payouts,
                                              const Hash256& network_id, size_t extranonce1_size,
                                              size_t extranonce2_size);
// A share's coinbase (non-witness serialization) as the miner hashed it.
Bytes share_coinbase(const Share& share, std::span<const chain::TxOut> payouts, const Hash256& network_id);

// ---- the share chain -----------------------------------------------------------------------------

struct ShareEntry {
  Share share;
  Hash256 hash{};
  const ShareEntry* parent = nullptr;
  Work work = 0;        // from info.bits
  Work chain_work = 0;  // cumulative, this share included
  bool block = false;   // met the coin's target (and the test network's block target)
  int64_t received_ms = 0;
};

enum class AddStatus { accepted, duplicate, orphan, invalid };
struct AddResult {
  AddStatus status = AddStatus::invalid;
  std::string reason;  // for invalid
  bool new_tip = false;
  const ShareEntry* entry = nullptr;
};

// The chain of shares: verification, the heaviest tip, locators, the window. Not thread-safe:
// the owner (Node) serializes access.
class ShareChain {
 public:
  explicit ShareChain(ChainParams params);

  const ChainParams& params() const { return params_; }
  const Hash256& network_id() const { return network_id_; }

  // Verifies and adds. Orphans (unknown parent) are held (bounded, oldest dropped) and added
  // when their parent arrives. `now_unix`: the receiver's clock for the future-time rule.
  // `trusted_block` only for shares read back from the node's own file: the PoW is not
  // checked again and the stored block flag is used.
  // `pow`: the share header's PoW value when the caller computed it already (the node hashes a
  // peer's batch on several threads first); never a value a peer sent.
  AddResult add(Share share, int64_t now_unix, std::optional<bool> trusted_block = std::nullopt,
                std::optional<U256> pow = std::nullopt);
  // Shares that became connectable after the last add() (orphans adopted), oldest first.
  std::vector<const ShareEntry*> take_adopted();

  const ShareEntry* tip() const { return tip_; }
  const ShareEntry* find(const Hash256& hash) const;
  size_t size() const { return entries_.size(); }
  size_t orphan_count() const { return orphans_.size(); }

  // What the next share on `parent` (null: the first share) must declare as its target.
  uint32_t next_bits(const ShareEntry* parent) const;
  // Whether PoW `pow` on a share with `info` and coin header `header` is a block.
  bool block_pow(const U256& pow, const ShareInfo& info, const chain::BlockHeader& header) const;
  // The payout outputs a share on `parent` with `info` must carry for `reward`.
  std::vector<chain::TxOut> expected_payouts(const ShareEntry* parent, const ShareInfo& info, int64_t reward) const;
  // The window ending at `last` (its last `window` shares), oldest first.
  std::vector<const ShareEntry*> window(const ShareEntry* last) const;

  // Locator: tip, tip-1, tip-2, tip-4, ... back to the first share.
  std::vector<Hash256> locator() const;
  // The best-chain shares after the newest locator entry we know, oldest first, at most `max`.
  std::vector<const ShareEntry*> after_locator(std::span<const Hash256> locator, size_t max) const;

  // Checks a share against the chain without adding it (nullopt = valid). Parent must be known.
  // `block` (when not null) is set to whether the share is also a block. trusted_block: as add().
  std::optional<std::string> verify(const Share& share, const ShareEntry* parent, int64_t now_unix,
                                    std::optional<bool> trusted_block = std::nullopt, bool* block = nullptr,
                                    std::optional<U256> pow = std::nullopt) const;

 private:
  void connect(std::unique_ptr<ShareEntry> entry, bool block, AddResult& result);

  ChainParams params_;
  Hash256 network_id_;
  U256 max_target_;
  struct HashHasher {
    size_t operator()(const Hash256& h) const {
      size_t v;
      std::memcpy(&v, h.data(), sizeof v);
      return v;
    }
  };
  std::unordered_map<Hash256, std::unique_ptr<ShareEntry>, HashHasher> entries_;
  const ShareEntry* tip_ = nullptr;
  struct Orphan {
    Share share;
    std::optional<bool> trusted_block;
    std::optional<U256> pow;
  };
  std::multimap<Hash256, Orphan> orphans_;  // by parent hash
  std::vector<Hash256> orphan_order_;
  std::vector<const ShareEntry*> adopted_;
};

// The chain's file: an append-only log of serialized shares (length, crc32c-like checksum,
// bytes). A torn last record (killed process) is cut off at the next open.
class ShareFile {
 public:
  // Opens or creates; throws std::runtime_error naming the path.
  explicit ShareFile(std::string path);
  ~ShareFile();
  // Reads every intact record (share, block flag), oldest first; truncates a torn tail.
  std::vector<std::pair<Share, bool>> load();
  // Written, and fdatasync'ed unless sync is false (then call sync() before relying on it:
  // the node syncs once per received batch).
  void append(const Share& share, bool block, bool sync = true);
  void sync();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace otedama::p2p

// ---- the node: chain + peers -----------------------------------------------------------------------

namespace otedama::p2p {

class Network;

struct NodeConfig {
  ChainParams params;
  std::string data_dir;  // shares.dat and node_id live here
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 0;  // 0: the kernel picks (tests)
  std::vector<std::string> seeds;
  size_t max_peers = 32;
  size_t outbound_peers = 8;
  uint32_t handshake_pow_bits = 18;
  std::chrono::seconds ban_time{600};
  uint16_t stratum_port = 0;  // advertised to peers (miners can be sent there)
  size_t sync_batch = 500;    // shares per sync answer
  Bytes fee_script;           // where this node's fee goes (networks with a fee only)
};

// What a miner's job needs from the chain.
struct JobPlan {
  ShareInfo info;                      // prev, height, bits, time, payout and fee scripts
  std::vector<chain::TxOut> payouts;   // before the commitment
  U256 share_target;
  Hash256 network_id{};
};

struct PeerSummary {
  std::string address, listen, user_agent;
  uint16_t stratum_port = 0;
  bool inbound = false;
  double ping_ms = -1;
  int ban_score = 0;
};

struct MinerInWindow {
  std::string script_hex;
  uint64_t shares = 0;
  double work = 0;            // sum of the shares' work (expected hashes)
  int64_t expected_payout = 0;  // of a block found now, at the last share's reward
};

struct NodeStatus {
  std::string network;
  std::string network_id_hex;
  uint64_t height = 0;
  std::string tip;  // display hex, "" before the first share
  double share_difficulty = 0;  // of the next share, in the coin's difficulty units
  uint64_t shares = 0, orphans = 0, blocks = 0;
  uint64_t peers = 0;
  int64_t last_share_unix = 0;
};

struct BlockFound {
  uint64_t share_height = 0;
  uint32_t coin_height = 0;
  std::string hash;  // display hex
  std::string finder_script_hex;
  int64_t reward = 0;
  int64_t time_unix = 0;
};

// The P2P node: the share chain (persisted), its peers, sync and relay. Thread-safe: the
// pool calls plan()/submit() from its loop, the API reads from its own thread; the peers (and
// the on_tip/on_block callbacks for their shares) run on the node's own thread.
class Node {
 public:
  // Throws std::invalid_argument (bad parameters) or std::runtime_error (data directory).
  Node(boost::asio::io_context& io, NodeConfig config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Loads the chain from disk, binds the P2P port (std::runtime_error naming it) and dials seeds.
  void start();
  void stop();
  uint16_t port() const;

  const ChainParams& params() const;
  const Hash256& network_id() const;
  bool block_pow(const U256& pow, const ShareInfo& info, const chain::BlockHeader& header) const;
  // The next share for a miner paying `payout_script`, on the current tip.
  JobPlan plan(const Bytes& payout_script, int64_t reward, uint32_t now_unix) const;
  // A local miner's share that met the share target: verified, added, stored, relayed.
  // `pow`: the header's PoW value when the caller (the pool's share check) computed it already.
  AddResult submit(Share share, std::optional<U256> pow = std::nullopt);

  // Called (on the node's thread) when the tip changes: the pool makes new jobs.
  void on_tip(std::function<void()> callback);
  // Called once for every block share accepted (local or from a peer): the full block for
  // submitblock, its hash (display hex) and coin height.
  void on_block(std::function<void(Bytes block, std::string hash, uint32_t coin_height)> callback);

  NodeStatus status() const;
  std::vector<PeerSummary> peers() const;
  std::vector<MinerInWindow> window_miners() const;
  std::vector<BlockFound> blocks(size_t max) const;
  // The best chain's shares, newest first (at most max), for the API and for tests that
  // recompute the payouts independently.
  struct ShareView {
    uint64_t height = 0;
    std::string hash, prev;  // display hex
    std::string payout_script_hex;
    uint32_t bits = 0, time = 0;
    double work = 0;
    bool block = false;
    uint32_t coin_height = 0;
    int64_t reward = 0;
  };
  std::vector<ShareView> shares(size_t max) const;
  // Manual bans (a node id in hex or an IP), and lifting them.
  void ban(const std::string& what, std::chrono::seconds duration);
  bool unban(const std::string& what);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace otedama::p2p
