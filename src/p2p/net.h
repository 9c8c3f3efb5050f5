// Internal to the p2p module: the peer-to-peer transport under the share chain (docs/p2p.md,
// "Wire protocol"). TCP, length-prefixed binary frames, a versioned handshake with a small
// proof-of-work challenge, keep-alive, peer exchange, ban scores and bans. The share chain's
// messages ride on it as application types (>= kFirstAppType); the transport knows nothing of
// shares.
#pragma once

// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/core.h"

namespace otedama::p2p {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// ---- wire encoding --------------------------------------------------------------------------------

// Little-endian fixed-width integers and length-prefixed strings/bytes.
class WireWriter {
 public:
  WireWriter() { out_.reserve(128); }
  WireWriter& u8(uint8_t v) { out_.push_back(v); return *this; }
  WireWriter& u16(uint16_t v) { return le(v, 2); }
  WireWriter& u32(uint32_t v) { return le(v, 4); }
  WireWriter& u64(uint64_t v) { return le(v, 8); }
  WireWriter& i64(int64_t v) { return le(uint64_t(v), 8); }
  WireWriter& f64(double v);
  WireWriter& raw(ByteSpan b) {
    // resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overread) on the latter.
    size_t n = out_.size();
    out_.resize(n + b.size());
    if (!b.empty()) std::memcpy(out_.data() + n, b.data(), b.size());
    return *this;
  }
  // u8 length + bytes; throws std::invalid_argument over 255 bytes.
  WireWriter& str8(std::string_view s);
  // u16 length + bytes; throws std::invalid_argument over 65535 bytes.
  WireWriter& str16(std::string_view s);
  Bytes take() { return std::move(out_); }
  const Bytes& bytes() const { return out_; }

 private:
  WireWriter& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(uint8_t(v >> (8 * i)));
    return *this;
  }
  Bytes out_;
};

// Reads what WireWriter writes; every read is bounds-checked and throws WireError (a message
// naming the field) on a short or malformed payload. finish() throws on trailing bytes.
struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
class WireReader {
 public:
  explicit WireReader(ByteSpan in) : in_(in) {}
  uint8_t u8(const char* field) { return uint8_t(le(1, field)); }
  uint16_t u16(const char* field) { return uint16_t(le(2, field)); }
  uint32_t u32(const char* field) { return uint32_t(le(4, field)); }
  uint64_t u64(const char* field) { return le(8, field); }
  int64_t i64(const char* field) { return int64_t(le(8, field)); }
  double f64(const char* field);  // finite values only
  ByteSpan raw(size_t n, const char* field);
  template <size_t N>
  std::array<uint8_t, N> array(const char* field) {
    std::array<uint8_t, N> a;
    auto s = raw(N, field);
    std::copy(s.begin(), s.end(), a.begin());
    return a;
  }
  // Strings are printable ASCII only (they end up in logs and the API).
  std::string str8(const char* field);
  std::string str16(const char* field);
  size_t remaining() const { return in_.size() - pos_; }
  void finish(const char* message);

 private:
  uint64_t le(int n, const char* field);
  ByteSpan in_;
  size_t pos_ = 0;
};

// ---- frames ---------------------------------------------------------------------------------------

// frame = magic(4) | type(1) | length(4, little-endian) | payload(length)
inline constexpr size_t kFrameHeader = 9;
using Magic = std::array<uint8_t, 4>;
// The first four bytes of sha256d("otedama-p2p" || network_id): a stream of another network
// (or of something that is not Otedama) fails at its first frame.
Magic network_magic(const Hash256& network_id);
Bytes encode_frame(const Magic& magic, uint8_t type, ByteSpan payload);

// Transport message types. Applications use kFirstAppType and above.
enum MessageType : uint8_t {
  kChallenge = 0x01,  // listener -> connector: {version u32, network_id 32, challenge 32, bits u8}
  kHello = 0x02,      // {version u32, network_id 32, node_id 32, listen_port u16, stratum_port u16,
                      //  nonce u64, user_agent str8}
  kReject = 0x03,     // {code u8, reason str8}, then the sender closes
  kPing = 0x04,       // {nonce u64}
  kPong = 0x05,       // {nonce u64}
  kGetAddr = 0x06,    // {}
  kAddr = 0x07,       // {count u16, count x {family u8 (4|6), ip 4|16, port u16}}
};
inline constexpr uint8_t kFirstAppType = 0x40;
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kControlMessageLimit = 64 << 10;  // handshake, ping, peers
inline constexpr size_t kMaxAddrEntries = 1000;
inline constexpr size_t kMaxUserAgent = 255;

enum RejectCode : uint8_t {
  kRejectNetwork = 1,    // another network id
  kRejectVersion = 2,    // another protocol version
  kRejectFull = 3,       // at the peer cap (an addr message precedes it)
  kRejectDuplicate = 4,  // that node id is connected already
  kRejectSelf = 5,       // a node connected to itself
  kRejectBanned = 6,
  kRejectProofOfWork = 7,
};

// The handshake's proof of work: the number of leading zero bits of
// sha256d(challenge || network_id || node_id || nonce u64 LE), as bytes, most significant bit
// of byte 0 first.
int handshake_pow_zero_bits(const Hash256& challenge, const Hash256& network_id, const Hash256& node_id,
                            uint64_t nonce);
// Searches nonces from 0 until the proof has `bits` zero bits; nullopt when *stop becomes true.
std::optional<uint64_t> solve_handshake_pow(const Hash256& challenge, const Hash256& network_id,
                                            const Hash256& node_id, uint32_t bits,
                                            const std::atomic<bool>* stop = nullptr);

// ---- one framed connection -----------------------------------------------------------------------

// A TCP connection carrying frames, on one strand. Reads one frame at a time and never
// allocates more than the limit the owner gives for the frame's type; writes are queued up to
// a bound (a peer that does not read is closed, memory never grows with it). All methods run
// on the strand; the owner's callbacks too.
class FramedConnection : public std::enable_shared_from_this<FramedConnection> {
 public:
  struct Callbacks {
    // The payload limit for a type, or nullopt for a type not acceptable now (unknown).
    std::function<std::optional<size_t>(uint8_t type)> limit;
    // One complete frame; `magic_ok` false only while accept_foreign_magic is set.
    std::function<void(uint8_t type, ByteSpan payload, bool magic_ok)> frame;
    // The connection is gone. `violation`: the peer broke the framing (bad magic, unknown type,
    // oversized length); `why` says what happened.
    std::function<void(const std::string& why, bool violation)> closed;
  };

  FramedConnection(tcp::socket socket, Magic magic, size_t max_send_queue);
  void start(Callbacks callbacks);
  // Queues one frame; false (and nothing queued) once closed. Closes the connection when the
  // queue would pass max_send_queue.
  bool send(uint8_t type, ByteSpan payload);
  bool send_frame(Bytes frame);
  // Closes now (queued frames dropped); `closed` is called once, with `why`.
  void close(const std::string& why, bool violation = false);
  // Closes once the queue is written (at most 2 s later), e.g. after a reject.
  void close_after_flush(const std::string& why);
  bool is_open() const { return open_; }

  // While set, a frame with another network's magic is delivered (magic_ok = false) rather
  // than refused, so the handshake can tell "another network" from garbage.
  bool accept_foreign_magic = true;

  const std::string& remote_ip() const { return remote_ip_; }
  uint16_t remote_port() const { return remote_port_; }
  bool remote_is_loopback() const { return loopback_; }
  // Thread-safe reads.
  uint64_t bytes_in() const { return bytes_in_.load(std::memory_order_relaxed); }
  uint64_t bytes_out() const { return bytes_out_.load(std::memory_order_relaxed); }
  std::chrono::steady_clock::time_point last_received() const { return last_received_; }
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  void read_header();
  void read_payload(uint8_t type, uint32_t length, bool magic_ok);
  void write_next();
  void finish(const std::string& why, bool violation);

  tcp::socket socket_;
  Magic magic_;
  size_t max_send_queue_;
  Callbacks cb_;
  std::array<uint8_t, kFrameHeader> header_{};
  Bytes payload_;
  std::deque<Bytes> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool open_ = true;
  bool closing_after_flush_ = false;
  bool in_frame_callback_ = false;
  std::string close_why_;
  std::unique_ptr<asio::steady_timer> flush_timer_;
  std::string remote_ip_;
  uint16_t remote_port_ = 0;
  bool loopback_ = false;
  std::atomic<uint64_t> bytes_in_{0}, bytes_out_{0};
  std::chrono::steady_clock::time_point last_received_ = std::chrono::steady_clock::now();
};

// "host:port" / "[v6]:port" -> (host, port); nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> split_host_port(const std::string& text);
// The canonical text of an address (IPv4-mapped IPv6 shown as IPv4).
std::string canonical_ip(const asio::ip::address& address);
std::string join_host_port(const std::string& host, uint16_t port);

// ---- the peer network ------------------------------------------------------------------------------

using PeerId = uint64_t;

struct NetConfig {
  Hash256 network_id{};  // hash of the chain's parameters; peers with another id are refused
  Hash256 node_id{};     // this node's identity (random, persisted by the caller)
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 0;        // 0 = the kernel picks (tests); port() tells
  bool listen = true;              // false: outbound only
  std::vector<std::string> seeds;  // "host:port", retried with back-off while below the outbound target
  size_t max_peers = 32;           // connected peers, both directions
  size_t outbound_target = 8;      // dial seeds and learned addresses while fewer outbound peers
  size_t max_pending_handshakes = 64;  // inbound; when full, the oldest pending one is dropped
  size_t max_pending_per_ip = 4;       // inbound pending handshakes from one (non-loopback) IP
  uint32_t handshake_pow_bits = 18;    // what this node asks of connectors
  uint32_t max_solve_bits = 24;        // the most this node solves when it connects (higher: refused)
  std::chrono::milliseconds handshake_timeout{10000};
  size_t max_message = 8 << 20;  // application messages (per-type limits below may be smaller)
  // Application message types accepted, with their payload limits (capped at max_message).
  // Empty: every type >= kFirstAppType with max_message. A type not listed is unknown: the
  // sender is banned.
  std::map<uint8_t, size_t> app_message_limits;
  size_t max_send_queue = 32 << 20;  // bytes queued to one peer before it is dropped as too slow
  std::chrono::milliseconds ping_interval{15000}, peer_timeout{60000}, ban_time{600000};
  std::chrono::milliseconds retry_min{1000}, retry_max{60000};  // dial back-off
  std::chrono::milliseconds tick{500};  // housekeeping period (timeouts, pings, dialing)
  uint16_t stratum_port = 0;  // advertised so miners can be sent to peers (client.reconnect)
  std::string user_agent = "otedama";
  // Loopback peers (all test nodes share 127.0.0.1) are banned by node id, not by IP, unless
  // this is set.
  bool ban_loopback_ip = false;
  size_t max_known_addresses = 1000;
};

struct PeerInfo {
  PeerId id = 0;
  std::string address;  // host:port seen (the remote end of the TCP connection)
  std::string listen;   // host:listen_port it accepts connections on ("" when it does not listen)
  uint16_t stratum_port = 0;
  Hash256 node_id{};
  bool inbound = false;
  int ban_score = 0;
  double ping_ms = -1;  // last round trip; -1 before the first pong
  std::string user_agent;
  int64_t connected_unix = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

struct BanInfo {
  std::string what;     // an IP address, or a node id in hex
  bool by_node = false;
  int64_t until_unix = 0;
  std::string reason;
};

class Network {
 public:
  // Callbacks run on the network's strand (on the io_context's thread), never after stop()
  // has returned.
  struct Handler {
    virtual ~Handler() = default;
    virtual void on_connected(const PeerInfo&) {}
    virtual void on_disconnected(PeerId, const std::string& /*why*/) {}
    // An application message (type >= kFirstAppType); `payload` is valid during the call.
    virtual void on_message(PeerId, uint8_t type, ByteSpan payload) = 0;
  };

  // Throws std::invalid_argument for an unusable config (zero ids, outbound target over the
  // peer cap, proof-of-work bits over 40, an app limit below kFirstAppType...).
  Network(asio::io_context& io, NetConfig config, Handler& handler);
  ~Network();  // stop()
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Binds (throws std::runtime_error naming the address on failure) and starts accepting and
  // dialing the seeds.
  void start();
  // Closes every connection; no callback runs after it returns. Idempotent.
  void stop();
  uint16_t port() const;

  // Thread-safe. send: false when the peer is gone (or not past its handshake). Throws
  // std::invalid_argument for a transport type (< kFirstAppType) or a payload over its limit.
  bool send(PeerId peer, uint8_t type, Bytes payload);
  void broadcast(uint8_t type, const Bytes& payload, PeerId except = 0);
  // Adds to the peer's ban score; at 100 it is dropped and banned for ban_time.
  void misbehaving(PeerId peer, int score, const std::string& why);
  void disconnect(PeerId peer, const std::string& why);
  // A node id in hex (64 digits) or an IP address. Throws std::invalid_argument otherwise.
  void ban(const std::string& what, std::chrono::seconds duration, const std::string& reason = "manual");
  bool unban(const std::string& what);
  std::vector<BanInfo> bans() const;
  std::vector<PeerInfo> peers() const;
  // Adds an address to dial (as learned from peers); "host:port".
  void add_address(const std::string& host_port);
  std::vector<std::string> known_addresses() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace otedama::p2p
