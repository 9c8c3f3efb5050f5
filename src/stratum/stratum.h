// stratum: the Stratum server (protocol, sessions, share pre-checks) on the node's Asio loop, in
// two dialects on the same sessions, flood limits, bans and TLS: Stratum v1 (Bitcoin family:
// mining.subscribe/authorize/notify/submit and extensions) and Monero-style Stratum (login,
// getjob, submit, keepalived, pushed jobs: XMRig, SRBMiner; docs/stratum-monero.md).
// It knows nothing of pools, coins or headers: the proof-of-work check, authorization and
// everything that needs a block template go through the Handler interface below.
//
// Threading: a Server and its Sessions belong to the thread that runs the io_context (the
// node's loop). Call every method from that thread (post to it from elsewhere). Handler
// callbacks run on that thread, synchronously, on the share's hot path.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"

namespace boost::asio {
class io_context;
}

namespace otedama::stratum {

// Error codes of the Stratum convention (ckpool, node-stratum-pool), sent as [code, message, null].
namespace error {
constexpr int other = 20;
constexpr int job_not_found = 21;  // also stale: the job is older than the last clean job
constexpr int duplicate = 22;
constexpr int low_difficulty = 23;
constexpr int unauthorized = 24;
constexpr int not_subscribed = 25;
// JSON-RPC's own, for requests that are not Stratum at all.
constexpr int parse_error = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
}  // namespace error

using SessionId = uint64_t;

enum class Protocol {
  bitcoin,  // Stratum v1
  monero,   // login / getjob / submit / keepalived, JSON-RPC 2.0 (docs/stratum-monero.md)
};

// One unit of work as the pool supplies it; sent to miners as mining.notify.
struct Job {
  std::string id;
  std::string prevhash_hex;  // 64 hex digits, Stratum's word-swapped form, sent as is
  std::string coinb1_hex, coinb2_hex;
  std::vector<std::string> merkle_branch_hex;
  uint32_t version = 0, nbits = 0, ntime = 0;
  bool clean = false;                     // clean_jobs: earlier jobs become stale
  std::shared_ptr<const void> context;    // the handler's own data (template, coinbase parts...)
};

// "ADDRESS.WORKER+DIFF": the worker name of mining.authorize, split.
struct WorkerName {
  std::string user;     // without the +DIFF suffix: "ADDRESS.WORKER"
  std::string address;  // before the first '.'
  std::string worker;   // after the first '.', may be empty
  std::optional<double> fixed_difficulty;  // from a "+DIFF" suffix (positive number)
};
// Never throws: a suffix that is not a positive finite number stays part of the name.
WorkerName parse_worker_name(std::string_view name);

struct ServerConfig {
  std::string name = "stratum";  // label in logs and metrics
  Protocol protocol = Protocol::bitcoin;
  // Monero: NiceHash mode. Each session gets its own top nonce byte (Session::nonce_byte), the
  // login answer lists the "nicehash" extension, and shares with another top byte are refused.
  bool nicehash = false;
  // Monero: share checks a session may have in flight (checked on worker threads); more are
  // refused with "Too many pending shares" rather than queued without bound.
  size_t max_pending_checks = 64;
  size_t max_connections = 10000;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};  // nothing received for this long
  size_t max_line = 16 * 1024;              // bytes per received line; longer: error, then disconnect
  uint32_t max_messages_per_second = 1000;  // per connection; more: disconnect (0 = unlimited)
  size_t max_pending_write = 32u << 20;     // bytes queued for a slow reader before it is dropped
  size_t extranonce1_size = 4;              // 1..8 bytes, unique per live connection
  size_t extranonce2_size = 8;              // 1..8 bytes; smaller for NiceHash-like reduced space
  double initial_difficulty = 16;
  double min_difficulty = 1.0 / 4294967296.0;  // 2^-32
  double max_difficulty = 1e12;
  U256 diff1_target = U256::from_compact(0x1d00ffff);  // sha256d; scrypt coins: this << 16
  uint32_t version_mask = 0x1fffe000;       // BIP310 bits the pool lets miners roll (BIP320)
  uint32_t max_ntime_ahead = 7200;          // seconds a share's ntime may be past the job's
  size_t max_jobs_per_session = 16;         // older jobs are forgotten (their shares: stale)
  // Ban an IP whose session's invalid shares exceed ban_invalid_ratio of at least ban_min_shares
  // within ban_window. ban_duration 0 disables bans.
  std::chrono::milliseconds ban_window{std::chrono::seconds(60)};
  uint32_t ban_min_shares = 20;
  double ban_invalid_ratio = 0.5;
  std::chrono::milliseconds ban_duration{std::chrono::minutes(10)};
  std::string software = "otedama";  // answer to client.get_version (the version is appended)
  // stratum+ssl: a connection to the TLS port that has not finished its handshake this long
  // after connecting is dropped.
  std::chrono::milliseconds tls_handshake_timeout{std::chrono::seconds(10)};
};

class Server;

// One connection. Owned by the Server; references stay valid until Handler::on_disconnect returns.
class Session {
 public:
  SessionId id() const { return id_; }
  const std::string& remote_ip() const { return remote_ip_; }
  const std::string& user_agent() const { return user_agent_; }
  bool tls() const { return tls_; }  // connected through the TLS port (stratum+ssl)
  bool subscribed() const { return subscribed_; }
  bool authorized() const { return !workers_.empty(); }
  const std::vector<std::string>& workers() const { return workers_; }  // authorized names, as sent
  ByteSpan extranonce1() const { return {extranonce1_.data(), extranonce1_size_}; }
  std::string extranonce1_hex() const;
  size_t extranonce2_size() const { return extranonce2_size_; }

  // The difficulty the next job goes out with (and set_difficulty before it when it changed).
  double difficulty() const { return difficulty_; }
  // True after mining.suggest_difficulty or a "+DIFF" worker suffix: vardiff must leave it alone.
  bool difficulty_fixed() const { return difficulty_fixed_; }
  double miner_minimum_difficulty() const { return miner_min_difficulty_; }  // BIP310 minimum-difficulty
  // Sets the difficulty for the next job, clamped to the server's min..max and the miner's
  // minimum; returns what was set. Sent right before the next job, never alone.
  double set_difficulty(double difficulty);
  // Same, and marks it fixed (rental services); vardiff should not touch it afterwards.
  double set_fixed_difficulty(double difficulty);

  bool version_rolling() const { return version_rolling_; }
  uint32_t version_mask() const { return version_mask_; }  // negotiated; 0 without version rolling
  bool extranonce_subscribed() const { return extranonce_subscribed_; }
  // Monero NiceHash mode: the nonce's top byte this session must keep (ServerConfig::nicehash).
  uint8_t nonce_byte() const { return nonce_byte_; }
  // Monero: the login's "rigid" or ".WORKER", and the address part of the login.
  const std::string& login_address() const { return login_address_; }

  // mining.set_extranonce; only for sessions that sent mining.extranonce.subscribe (or the
  // BIP310 "subscribe-extranonce"); returns false (nothing changes) for others. Takes effect
  // with the next job. Throws std::invalid_argument for a bad size or an extranonce1 another
  // live session holds.
  bool set_extranonce(ByteSpan extranonce1, size_t extranonce2_size);
  void reconnect(const std::string& host, uint16_t port, uint32_t wait_seconds = 0);  // client.reconnect
  void show_message(const std::string& text);                                        // client.show_message
  void disconnect();  // flushes what is queued, then closes

  // Free slot for the handler's per-session state (e.g. its vardiff).
  std::shared_ptr<void>& user_data() { return user_data_; }

 protected:
  Session() = default;
  ~Session() = default;

  SessionId id_ = 0;
  std::string remote_ip_;
  std::string user_agent_;
  std::vector<std::string> workers_;
  std::shared_ptr<void> user_data_;
  std::array<uint8_t, 8> extranonce1_{};
  uint8_t extranonce1_size_ = 0;
  uint8_t extranonce2_size_ = 0;
  bool subscribed_ = false;
  bool difficulty_fixed_ = false;
  bool version_rolling_ = false;
  bool extranonce_subscribed_ = false;
  bool tls_ = false;
  uint8_t nonce_byte_ = 0;
  std::string login_address_;
  double difficulty_ = 1;
  double miner_min_difficulty_ = 0;
  uint32_t version_mask_ = 0;
};

// What a miner submitted, checked for form, job, time, version bits and duplicates already.
struct ShareSubmission {
  const Job& job;
  std::string_view worker;
  ByteSpan extranonce1;  // the session's, when the job was sent
  ByteSpan extranonce2;
  uint32_t ntime = 0;
  uint32_t nonce = 0;
  uint32_t version = 0;  // header nVersion: (job.version & ~mask) | (bits & mask)
  double difficulty = 0;  // in force when this job was sent to this session
  const U256& target;     // share target of that difficulty (ServerConfig::diff1_target based)
};

struct ShareResult {
  bool valid = false;
  bool block_candidate = false;  // meets the network target: the handler submits it
  int error_code = error::low_difficulty;
  std::string error_message;  // empty: the code's usual text
  double share_difficulty = 0;  // measured from the hash, for statistics
  // Set on an accepted share whose "true" must wait (e.g. until the share is durable in the
  // store): the server calls defer_ack(reply) and sends the answer when `reply` runs (any thread).
  std::function<void(std::function<void()> reply)> defer_ack;

  static ShareResult accepted(double measured, bool block = false) { return {true, block, 0, {}, measured, {}}; }
  static ShareResult rejected(int code, std::string message, double measured = 0) {
    return {false, false, code, std::move(message), measured, {}};
  }
};

// Monero-style job, per session (its blob carries the session's extra nonce).
struct MoneroJob {
  std::string id;              // unique per server, 1..64 characters
  std::string blob_hex;        // hashing blob; the nonce at nonce_offset (4 bytes, little-endian)
  size_t nonce_offset = 39;
  std::string target_hex;      // 8 or 16 hex digits as XMRig reads them
  uint64_t difficulty = 0;     // what the target means: floor((2^64-1)/target64); shares checked at this
  uint64_t height = 0;
  std::string seed_hash_hex;   // RandomX key (64 hex digits)
  std::string next_seed_hash_hex;  // empty unless known
  std::string algo = "rx/0";
  bool clean = true;           // a new block: the session's earlier jobs become stale
  std::shared_ptr<const void> context;  // the handler's own data (template, extra nonce...)
};

// A Monero share, checked for form, job, nonce byte (NiceHash) and duplicates already.
struct MoneroShare {
  std::shared_ptr<const MoneroJob> job;
  std::string worker;
  uint32_t nonce = 0;
  Hash256 claimed_result{};  // what the miner says the hash is (never trusted)
};

// Completes one share check; call exactly once, from any thread.
using ShareDone = std::function<void(ShareResult)>;

struct AuthResult {
  bool ok = false;
  std::string error;  // shown to the miner when !ok
};

class Handler {
 public:
  virtual ~Handler() = default;
  // mining.authorize. The server has parsed the name; a "+DIFF" suffix is applied as a fixed
  // difficulty by the server after an ok.
  virtual AuthResult authorize(Session& session, const WorkerName& worker, std::string_view password) = 0;
  // Rebuild the header, hash, compare with share.target (and the network target).
  virtual ShareResult check_share(Session& session, const ShareSubmission& share) {
    return ShareResult::rejected(error::other, "not a Stratum v1 pool");
  }
  // A share the server rejected before check_share (stale, duplicate, bad ntime...).
  virtual void on_rejected(Session& session, int code, std::string_view message) {}
  virtual void on_connect(Session& session) {}
  virtual void on_disconnect(Session& session) {}

  // Monero protocol. The session's next job (after login and for getjob), built for its current
  // difficulty and nonce byte; nullopt when the pool has no work (the miner is told so).
  virtual std::optional<MoneroJob> monero_job(Session& session) { return std::nullopt; }
  // Checks the share (e.g. RandomX on a worker thread) and calls done with the result. The
  // session may be gone by then; the server drops the answer in that case.
  virtual void check_monero_share(Session& session, MoneroShare share, ShareDone done) {
    done(ShareResult::rejected(error::other, "not a Monero pool"));
  }
};

class Server {
 public:
  // Throws std::invalid_argument for an inconsistent config.
  Server(boost::asio::io_context& io, ServerConfig config, Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds now; throws std::runtime_error naming the address on failure. Port 0: any free port.
  void listen(const std::string& host, uint16_t port);
  // stratum+ssl on a second port: the same sessions, jobs, extranonce space and handler, over
  // TLS 1.2 or later. Loads the PEM certificate chain and the (unencrypted) PEM private key,
  // then binds. Throws std::runtime_error naming the file when one is missing, unreadable or not
  // PEM, or when the key does not match the certificate; and naming the address when it cannot
  // be bound. A client that fails the handshake (or does not finish it within
  // ServerConfig::tls_handshake_timeout) is dropped alone.
  void listen_tls(const std::string& host, uint16_t port, const std::string& cert_file, const std::string& key_file);
  void start();  // begin accepting (on every port listened on)
  void stop();   // stop accepting, flush and close every session
  uint16_t port() const;
  uint16_t tls_port() const;  // 0 without listen_tls
  const ServerConfig& config() const;

  // Sends the job to every subscribed and authorized session (each preceded by its difficulty
  // when that changed) and keeps it as the first job of sessions that authorize later.
  // Throws std::invalid_argument for a malformed job or a job id used before.
  void notify_all(Job job);
  // One session only (e.g. fresh work right after a vardiff change). False: no such session or
  // it is not subscribed and authorized yet.
  bool notify(SessionId session, Job job);
  // Monero protocol: pushes a job to one logged-in session. False: no such session or it has not
  // logged in. Throws std::invalid_argument for a malformed job.
  bool send_monero_job(SessionId session, MoneroJob job);

  // The pool's version-rolling mask changed: mining.set_version_mask goes to sessions that
  // negotiated version rolling (never to others), with their new intersection.
  void set_version_mask(uint32_t mask);

  Session* find(SessionId id);
  void for_each_session(const std::function<void(Session&)>& fn);
  size_t session_count() const;

  // Refuses new connections from ip until the ban expires.
  void ban(const std::string& ip, std::chrono::milliseconds duration);
  bool is_banned(const std::string& ip) const;

  struct Impl;  // public so that the connection type in server.cpp can name it

 private:
  std::shared_ptr<Impl> impl_;
};

// ---- wire format (also for clients and tests) -----------------------------------------------

// A uint32 as exactly 8 lowercase hex digits, and back (false unless exactly 8 hex digits).
std::string hex32(uint32_t v);
bool parse_hex32(std::string_view s, uint32_t& out);
// A difficulty as a JSON number: integers without a fraction ("16"), others round-trip exact.
std::string difficulty_json(double difficulty);
// The complete mining.notify line (with '\n') for a job.
std::string notify_line(const Job& job);
// A Monero job as the JSON object miners get (in login/getjob answers and "job" pushes);
// session_id is the login answer's "id".
std::string monero_job_json(const MoneroJob& job, std::string_view session_id);

}  // namespace otedama::stratum
