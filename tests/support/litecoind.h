// Test harness: a litecoind regtest pair on free loopback ports (docs: real-nodes.md §1.1).
//
// Litecoin 0.21 refuses getblocktemplate without a peer, so two daemons run: pool node A
// (wallet enabled, the one tests talk to) and a wallet-less helper node B that A connects to
// over loopback. Both live in a temporary directory that is removed afterwards; the destructor
// always stops both (RPC "stop", then SIGKILL after a few seconds), also when a test fails.
//
//   otedama::test::LitecoindOptions options;
//   options.mweb = false;
//   otedama::test::Litecoind node(options);
//   node.cli({"createwallet", "pool"});
//   std::string addr = node.cli({"getnewaddress", "", "bech32"});
//   node.cli({"generatetoaddress", "101", addr});
//   // then talk to node.rpc_url() with the cookie at node.cookie_path()
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/support.h"

namespace otedama::test {

struct LitecoindOptions {
  // false: MWEB never activates (-vbparams=mweb:-2:0 on both nodes), so no peg-in is needed at 432.
  bool mweb = true;
  // Pool node A's -blocknotify command; "%s" is replaced by the block hash. Run by /bin/sh.
  std::string blocknotify;
  // Empty: cookie authentication (cookie_path()). Otherwise -rpcuser/-rpcpassword on node A.
  std::string rpc_user, rpc_password;
  std::vector<std::string> extra_args;  // more arguments for node A
  std::chrono::milliseconds start_timeout{30000};
};

class Litecoind {
 public:
  static constexpr const char* kDaemon = "/usr/lib/litecoin/litecoind";  // not the Debian wrapper
  static constexpr const char* kCli = "/usr/bin/litecoin-cli";

  explicit Litecoind(LitecoindOptions options = {}) : options_(std::move(options)) {
    if (!std::filesystem::exists(kDaemon) || !std::filesystem::exists(kCli))
      throw std::runtime_error("litecoind is not installed (scripts/setup.sh installs it)");
    while (rpc_b_ == rpc_a_) rpc_b_ = free_port();
    while (p2p_b_ == rpc_a_ || p2p_b_ == rpc_b_) p2p_b_ = free_port();
    std::filesystem::create_directories(dir_a());
    std::filesystem::create_directories(dir_b());
    try {
      start();
    } catch (...) {
      stop_all();
      throw;
    }
  }

  ~Litecoind() { stop_all(); }

  Litecoind(const Litecoind&) = delete;
  Litecoind& operator=(const Litecoind&) = delete;

  uint16_t rpc_port() const { return rpc_a_; }
  uint16_t helper_rpc_port() const { return rpc_b_; }
  uint16_t helper_p2p_port() const { return p2p_b_; }  // helper B's P2P port (peer pairs with addnode)
  std::string rpc_url() const { return "http://127.0.0.1:" + std::to_string(rpc_a_) + "/"; }
  std::string wallet_url(const std::string& wallet) const { return rpc_url() + "wallet/" + wallet; }
  std::filesystem::path datadir() const { return dir_a(); }
  // "__cookie__:<hex>"; only with cookie authentication (no rpc_user).
  std::string cookie_path() const { return (dir_a() / "regtest" / ".cookie").string(); }
  const std::filesystem::path& temp_dir() const { return tmp_.path(); }

  // litecoin-cli against node A; returns stdout without the trailing newline. Throws
  // std::runtime_error with litecoin-cli's stderr when it fails.
  std::string cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    return run_cli(rpc_a_, dir_a(), args, timeout, true);
  }
  // The same against helper node B.
  std::string cli_b(const std::vector<std::string>& args) const {
    return run_cli(rpc_b_, dir_b(), args, std::chrono::seconds(60), false);
  }

  // Stops node A only (to test a daemon that went away); B keeps running.
  void stop_pool_node() { stop(a_, rpc_a_, dir_a(), true); }
  bool pool_node_running() const { return a_ && a_->running(); }

 private:
  std::filesystem::path dir_a() const { return tmp_.path() / "a"; }
  std::filesystem::path dir_b() const { return tmp_.path() / "b"; }

  std::vector<std::string> common_args(const std::filesystem::path& dir) const {
    std::vector<std::string> a = {kDaemon, "-regtest", "-datadir=" + dir.string(), "-printtoconsole=0",
                                  "-dnsseed=0", "-upnp=0", "-discover=0", "-server=1",
                                  "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-dbcache=4", "-maxmempool=5",
                                  "-keypool=10"};
    if (!options_.mweb) a.push_back("-vbparams=mweb:-2:0");  // NEVER_ACTIVE
    return a;
  }

  void start() {
    // Helper B: listens on loopback, connects nowhere, no wallet.
    auto b = common_args(dir_b());
    b.insert(b.end(), {"-listen=1", "-bind=127.0.0.1:" + std::to_string(p2p_b_), "-connect=0", "-disablewallet",
                       "-rpcport=" + std::to_string(rpc_b_)});
    b_ = std::make_unique<Process>(b, tmp_.path());
    wait_until([&] { return try_cli(rpc_b_, dir_b(), {"getblockcount"}, false).has_value(); }, "helper node B's RPC");

    // Pool node A: one outbound connection, to B only.
    auto a = common_args(dir_a());
    a.insert(a.end(), {"-listen=0", "-connect=127.0.0.1:" + std::to_string(p2p_b_),
                       "-rpcport=" + std::to_string(rpc_a_), "-rpcthreads=16"});
    if (!options_.rpc_user.empty()) {
      a.push_back("-rpcuser=" + options_.rpc_user);
      a.push_back("-rpcpassword=" + options_.rpc_password);
    }
    if (!options_.blocknotify.empty()) a.push_back("-blocknotify=" + options_.blocknotify);
    a.insert(a.end(), options_.extra_args.begin(), options_.extra_args.end());
    a_ = std::make_unique<Process>(a, tmp_.path());
    wait_until(
        [&] {
          auto n = try_cli(rpc_a_, dir_a(), {"getconnectioncount"}, true);
          return n && *n == "1";
        },
        "pool node A's RPC and its connection to B");
  }

  template <typename Ready>
  void wait_until(Ready ready, const std::string& what) {
    auto end = std::chrono::steady_clock::now() + options_.start_timeout;
    while (std::chrono::steady_clock::now() < end) {
      if ((b_ && !b_->running()) || (a_ && !a_->running()))
        throw std::runtime_error("litecoind exited while waiting for " + what + ": " + logs());
      if (ready()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("timed out waiting for " + what + ": " + logs());
  }

  std::string logs() const {
    std::string out;
    for (auto d : {dir_a(), dir_b()}) {
      std::string log = read_file(d / "regtest" / "debug.log");
      if (log.size() > 2000) log = log.substr(log.size() - 2000);
      out += "\n--- " + d.filename().string() + "/regtest/debug.log (tail) ---\n" + log;
    }
    return out;
  }

  std::vector<std::string> cli_argv(uint16_t port, const std::filesystem::path& dir, const std::vector<std::string>& args,
                                    bool is_a) const {
    std::vector<std::string> argv = {kCli, "-regtest", "-datadir=" + dir.string(), "-rpcconnect=127.0.0.1",
                                     "-rpcport=" + std::to_string(port)};
    if (is_a && !options_.rpc_user.empty()) {
      argv.push_back("-rpcuser=" + options_.rpc_user);
      argv.push_back("-rpcpassword=" + options_.rpc_password);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::optional<std::string> try_cli(uint16_t port, const std::filesystem::path& dir, const std::vector<std::string>& args,
                                     bool is_a) const {
    RunResult r = run(cli_argv(port, dir, args, is_a), tmp_.path(), std::chrono::seconds(10));
    if (r.code != 0) return std::nullopt;
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r.out;
  }

  std::string run_cli(uint16_t port, const std::filesystem::path& dir, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout, bool is_a) const {
    RunResult r = run(cli_argv(port, dir, args, is_a), tmp_.path(), timeout);
    if (r.code != 0) {
      std::string cmd;
      for (const auto& a : args) cmd += " " + a;
      throw std::runtime_error("litecoin-cli" + cmd + " failed (exit " + std::to_string(r.code) + "): " + r.err);
    }
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r.out;
  }

  void stop(std::unique_ptr<Process>& p, uint16_t port, const std::filesystem::path& dir, bool is_a) {
    if (!p) return;
    if (p->running()) {
      try_cli(port, dir, {"stop"}, is_a);
      if (p->wait(std::chrono::seconds(5)) == -1) p->signal(SIGKILL);
      p->wait(std::chrono::seconds(5));
    }
    p.reset();  // Process's destructor kills and reaps whatever is left
  }

  void stop_all() {
    // A first: it is B's only peer, and its wallet flushes on a clean stop.
    try {
      stop(a_, rpc_a_, dir_a(), true);
    } catch (...) {
    }
    try {
      stop(b_, rpc_b_, dir_b(), false);
    } catch (...) {
    }
  }

  LitecoindOptions options_;
  TempDir tmp_;
  uint16_t rpc_a_ = free_port(), rpc_b_ = free_port(), p2p_b_ = free_port();
  std::unique_ptr<Process> a_, b_;
};

}  // namespace otedama::test
