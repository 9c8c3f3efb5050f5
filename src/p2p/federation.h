// Internal to the p2p module: federation links between independent pools (docs/p2p.md,
// "Federation"). Each side lists the other's ed25519 public key; the handshake signs both
// sides' nonces, so each proves it holds the listed key. Linked pools exchange new-block
// notices (to cut stale work), health, and offers to take each other's miners when one side's
// upstream (its coin daemon) fails.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "p2p/net.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace otedama::p2p {

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

// An ed25519 private key (OpenSSL 3). Files are PKCS#8 PEM, as `openssl genpkey -algorithm
// ed25519` writes them; public keys travel as 64 hex digits.
class Ed25519Key {
 public:
  static Ed25519Key generate();
  // Throws std::runtime_error naming the file (unreadable, not PEM, not an ed25519 key).
  static Ed25519Key load(const std::string& path);
  static Ed25519Key from_pem(const std::string& pem);
  std::string to_pem() const;
  // Writes the PEM with mode 0600 (created fresh; an existing file is refused). Throws.
  void save(const std::string& path) const;
  const PublicKey& public_key() const { return public_; }
  std::string public_key_hex() const { return to_hex(public_); }
  Signature sign(ByteSpan message) const;

 private:
  explicit Ed25519Key(std::shared_ptr<EVP_PKEY> key);
  std::shared_ptr<EVP_PKEY> key_;
  PublicKey public_{};
};

bool ed25519_verify(const PublicKey& key, ByteSpan message, const Signature& signature);
// 64 hex digits -> key; throws std::invalid_argument with a clear message.
PublicKey parse_public_key(const std::string& hex);

// ---- messages ------------------------------------------------------------------------------------

struct BlockNotice {
  std::string coin;  // "litecoin", "bitcoin", "monero"
  uint64_t height = 0;
  Hash256 hash{};     // as the coin displays it (RPC byte order)
  int64_t unix_ms = 0;  // when the sender saw it
};

struct Health {
  std::string coin;
  bool daemon_ok = false;  // its upstream daemon answers and is in sync
  uint64_t height = 0;
  uint32_t miners = 0;
  double hashrate = 0;       // hashes per second
  std::string stratum_host;  // where miners connect ("" or 0.0.0.0: the link's remote address)
  uint16_t stratum_port = 0;
  int64_t unix_ms = 0;
};

struct TakeoverOffer {
  std::string coin;
  bool accept = false;
  std::string stratum_host;
  uint16_t stratum_port = 0;
  uint32_t capacity = 0;  // miners it will take (0 with accept = no stated limit)
};

enum FederationMessage : uint8_t {
  kFedChallenge = 0x01,  // listener: {version u32, public_key 32, nonce 32}
  kFedHello = 0x02,      // connector: {version u32, public_key 32, nonce 32, name str8, signature 64}
  kFedAuthOk = 0x03,     // listener: {name str8, signature 64}
  kFedReject = 0x04,     // {code u8, reason str8}
  kFedPing = 0x05,       // {nonce u64}
  kFedPong = 0x06,       // {nonce u64}
  kFedBlock = 0x10,      // {coin str8, height u64, hash 32, unix_ms i64}
  kFedHealth = 0x11,     // {coin str8, daemon_ok u8, height u64, miners u32, hashrate f64,
                         //  stratum_host str8, stratum_port u16, unix_ms i64}
  kFedTakeoverRequest = 0x12,  // {coin str8, miners u32}
  kFedTakeoverOffer = 0x13,    // {coin str8, accept u8, stratum_host str8, stratum_port u16, capacity u32}
};
inline constexpr uint32_t kFederationVersion = 1;
inline constexpr size_t kFederationMessageLimit = 4096;
Magic federation_magic();
// What each side signs: domain || role || their nonce... (docs/p2p.md).
Bytes federation_transcript(bool connector, const Hash256& first_nonce, const Hash256& second_nonce,
                            const PublicKey& signer, const PublicKey& other);

// ---- the links -----------------------------------------------------------------------------------

struct FederationPeer {
  std::string name;      // for logs and the API
  std::string address;   // host:port to dial; "" = that side dials us
  PublicKey public_key{};
};

struct FederationConfig {
  std::shared_ptr<const Ed25519Key> key;  // this pool's identity (required)
  std::string name = "otedama";            // told to the other side
  bool listen = true;
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 0;  // 0 = the kernel picks (tests); port() tells
  std::vector<FederationPeer> peers;
  std::chrono::milliseconds health_interval{5000};  // health and ping period
  std::chrono::milliseconds health_max_age{20000};  // older health is not trusted
  std::chrono::milliseconds peer_timeout{30000};    // nothing received: the link is dropped
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds retry_min{1000}, retry_max{30000};
  std::chrono::milliseconds tick{250};
  size_t max_pending = 16;  // unauthenticated inbound connections; the oldest goes first
};

struct LinkInfo {
  std::string name;
  std::string address;  // remote end while up, else the configured address
  std::string public_key;
  bool up = false;
  bool inbound = false;
  double ping_ms = -1;
  std::vector<Health> health;  // the latest per coin
};

class Federation {
 public:
  // Callbacks run on the federation's strand, never after stop() has returned.
  struct Callbacks {
    std::function<void(const std::string& peer, bool up)> on_link;
    std::function<void(const std::string& peer, const BlockNotice&)> on_block_notice;
    std::function<void(const std::string& peer, const Health&)> on_health;
    // May we take `miners` miners of `coin` from `peer`? Unset: yes when our own health for the
    // coin says daemon_ok. The offer sent back carries our stratum endpoint from that health.
    std::function<bool(const std::string& peer, const std::string& coin, uint32_t miners)> on_takeover_request;
    std::function<void(const std::string& peer, const TakeoverOffer&)> on_takeover_offer;
  };

  // Throws std::invalid_argument for a config without a key, duplicate peer keys or names, our
  // own key among the peers, or a bad address.
  Federation(asio::io_context& io, FederationConfig config, Callbacks callbacks);
  ~Federation();
  Federation(const Federation&) = delete;
  Federation& operator=(const Federation&) = delete;

  void start();  // binds (throws std::runtime_error naming the address) and dials the peers
  void stop();   // idempotent; no callback runs after it returns
  uint16_t port() const;

  // Thread-safe.
  void announce_block(const BlockNotice& notice);
  // Our health for one coin: sent to every link now and every health_interval.
  void set_health(const Health& health);
  // Our upstream for `coin` failed: ask every link to take `miners` miners (offers arrive
  // through on_takeover_offer, and healthy_stratum_for prefers who accepted).
  void request_takeover(const std::string& coin, uint32_t miners);
  // A linked pool whose fresh health says its daemon for `coin` is fine: its Stratum host and
  // port (a pool that accepted our takeover request first). nullopt when there is none.
  std::optional<std::pair<std::string, uint16_t>> healthy_stratum_for(const std::string& coin) const;
  std::vector<LinkInfo> links() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace otedama::p2p
