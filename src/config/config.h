// config: the node's YAML configuration, parsed once into typed values.
//
// Every key is optional and has a documented default (config.example.yaml). Unknown keys,
// wrong types and bad values are collected as errors naming the file, line and key path;
// environment variables OTEDAMA_<SECTION>__<KEY>... override keys (for containers).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace otedama::config {

using Duration = std::chrono::milliseconds;

struct Address {
  std::string host;  // IPv4, IPv6 (without brackets) or a name
  uint16_t port = 0;
  std::string to_string() const;  // "host:port", "[v6]:port"
};
// "host:port" or "[v6]:port"; nullopt with a reason on error.
std::optional<Address> parse_address(const std::string& text, std::string* why = nullptr);

enum class Mode { development, production };
enum class RewardSystem { PPLNS, PPS, FPPS, SOLO };
enum class Priority { idle, low, normal, high };
enum class StorageDriver { sqlite, postgres };

const char* to_string(Mode);
const char* to_string(RewardSystem);
const char* to_string(Priority);
const char* to_string(StorageDriver);

// The PPLNS window: a duration (PPLNT, "2h") or a multiple of the network difficulty (2.0).
struct RewardWindow {
  std::optional<Duration> duration = std::chrono::hours(2);
  double difficulty_multiple = 0;  // used when duration is empty
};

struct DaemonConfig {
  std::string url;  // http://127.0.0.1:19443
  std::string user, password, cookie_file;
  std::string zmq;
  bool configured() const { return !url.empty(); }
};

struct DifficultyConfig {
  double initial = 16;
  double min = 0.0001;
  double max = 1.0e12;
  Duration target_share_time = std::chrono::seconds(10);
};

struct PoolConfig {
  std::string name;  // defaults to the coin, or "pool"
  bool enable = true;
  Address address{"0.0.0.0", 3333};
  uint32_t max_connections = 10000;
  double fee_percentage = 1.0;
  RewardSystem reward_system = RewardSystem::PPLNS;
  RewardWindow reward_window;
  std::string coin;       // bitcoin | litecoin | monero | "" (none yet)
  std::string algorithm;  // defaults from the coin, else mining.algorithm
  std::string payout_address;
  DaemonConfig daemon;
  std::optional<Address> tls_address;
  std::string tls_cert, tls_key;
  // Other nodes' Stratum endpoints (host:port). When this pool loses its coin daemon it sends
  // its miners client.reconnect to the first of them that accepts a connection (Bitcoin family).
  std::vector<Address> failover;
  DifficultyConfig difficulty;
  bool nicehash = false;
  // RandomX share checks: fast (2 GiB dataset, ~5 ms a hash), light (256 MiB, ~30 ms), or auto:
  // fast when the machine has the memory, light meanwhile and otherwise.
  std::string randomx_mode = "auto";
  // Payouts through the coin's wallet (pool.payouts): every `interval`, each account whose
  // payable balance reaches `minimum` (in coins) is paid in one batched transaction.
  struct Payouts {
    bool enabled = true;
    Duration interval = std::chrono::minutes(10);
    double minimum = 0.01;  // coins
    std::string wallet;     // litecoind/bitcoind wallet name; "" = the daemon's only loaded wallet
    std::string wallet_url; // Monero: monero-wallet-rpc's http://host:port (payouts need it)
  } payouts;
};

struct User {
  std::string name;
  std::string password_hash;  // a crypt(3)-style hash, never the password
  std::string role = "admin";
};

struct Config {
  std::string source;  // the file it came from

  struct App {
    std::string name = "Otedama";
    Mode mode = Mode::production;
    std::string data_dir = "./data";
  } app;

  struct Logging {
    std::string level = "info";  // trace|debug|info|warn|error|critical|off
    std::string file = "logs/otedama.log";
    uint64_t max_size = 10ull << 20;
    uint32_t max_files = 5;
  } logging;

  struct Mining {
    std::string algorithm = "sha256d";
    bool enable_cpu = true, enable_gpu = true, enable_asic = true;
    struct Cpu {
      uint32_t threads = 0;  // 0 = auto-detect
      Priority priority = Priority::normal;
    } cpu;
    struct Gpu {
      std::vector<int> devices;
      uint32_t intensity = 20;
      uint32_t temperature_limit = 85;
    } gpu;
    struct Asic {
      std::vector<std::string> devices;  // host:port of each ASIC's cgminer API
      Duration poll_interval = std::chrono::seconds(5);
    } asic;
  } mining;

  std::vector<PoolConfig> pools;  // `pool:` is a one-item list

  struct Api {
    bool enable = true;
    Address address{"0.0.0.0", 8080};
    struct Auth {
      bool enabled = true;
      Duration token_expiry = std::chrono::hours(24);
      std::vector<User> users;
      std::string users_file;
    } auth;
    struct RateLimit {
      bool enabled = true;
      double requests_per_second = 20;
      uint32_t burst = 40;
    } rate_limit;
  } api;

  struct Monitoring {
    struct Listener {
      bool enabled = true;
      Address address;
    };
    Listener metrics{true, {"0.0.0.0", 9090}};
    Listener health{true, {"0.0.0.0", 8081}};
  } monitoring;

  struct Storage {
    StorageDriver driver = StorageDriver::sqlite;
    std::string path;  // sqlite file; default <data_dir>/otedama.db
    std::string dsn;   // postgres
  } storage;

  struct P2P {
    bool enable = false;
    Address address{"0.0.0.0", 3335};
    std::vector<std::string> peers;
    uint32_t max_peers = 32;
    Duration share_time = std::chrono::seconds(10);
    std::string network = "mainnet";
    uint32_t outbound_peers = 8;      // dial seeds and learned addresses until this many outbound
    uint32_t handshake_pow_bits = 18;  // proof of work asked of each connecting peer (docs/p2p.md)
    Duration ban_time = std::chrono::minutes(10);

    // Links to independent pools (docs/p2p.md, "Federation"); works with or without the share chain.
    struct Federation {
      bool enable = false;
      std::string key_file;          // this pool's ed25519 private key (PEM)
      std::optional<Address> listen; // unset: this side only dials
      struct Peer {
        std::string name;
        std::optional<Address> address;  // unset: that pool dials us
        std::string public_key;          // 64 hex digits
      };
      std::vector<Peer> peers;
    } federation;
  } p2p;
};

struct ConfigError {
  std::string file;
  int line = 0;  // 1-based; 0 = not from a file position (environment, whole file)
  int column = 0;
  std::string key;  // dotted path: pool.rewards.window
  std::string message;
  std::string format() const;  // "config.yaml:12:5: pool.rewards.window: ..."
};

struct LoadResult {
  std::optional<Config> config;  // set only when there are no errors
  std::vector<ConfigError> errors;
  std::vector<std::string> warnings;
  bool ok() const { return errors.empty() && config.has_value(); }
};

using Environment = std::map<std::string, std::string>;
Environment process_environment();

LoadResult load_file(const std::string& path, const Environment& env = process_environment());
LoadResult load_string(const std::string& yaml, const std::string& source_name, const Environment& env = {});

// The full commented schema (config.example.yaml), as `otedama config init` prints it.
const std::string& example_yaml();

// The PoW algorithm a coin uses ("" for an unknown coin).
std::string coin_algorithm(const std::string& coin);

}  // namespace otedama::config
