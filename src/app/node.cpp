// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <thread>

#include "accounting/accounting.h"
#include "api/api.h"
#include "app/app.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "miner/miner.h"
#include "monitor/monitor.h"
#include "p2p/federation.h"
#include "p2p/p2p.h"
#include "pool/pool.h"
#include "stats/stats.h"
#include "store/store.h"

namespace otedama::app {

namespace asio = boost::asio;

namespace {

// Each Stratum connection is a descriptor: make room for pool.max_connections.
void raise_fd_limit(const config::Config& c) {
  uint64_t want = 1024;
  for (const auto& p : c.pools)
    if (p.enable) want += p.max_connections;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
  rlim_t target = std::min<rlim_t>(want, rl.rlim_max);
  rl.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || target < want)
    spdlog::warn("file-descriptor limit is {} but pool.max_connections needs about {}; raise it (ulimit -n)",
                 target, want);
}

// The listeners a config enables, with the config key that names each address.
struct Listener {
  std::string name, key;
  config::Address address;
  std::shared_ptr<http::Router> router;
};

// ---- API and statistics wiring (begin) -------------------------------------------------------
// The built-in CPU miner behind /api/mining/start|stop: one Miner on its own thread at a time.
class BuiltinMiner {
 public:
  explicit BuiltinMiner(std::optional<miner::MinerConfig> config) : config_(std::move(config)) {}
  ~BuiltinMiner() { stop(); }
  bool available() const { return config_.has_value(); }

  std::optional<std::string> start() {
    {
      std::lock_guard lock(mutex_);
      if (!config_) return "no pool on this node for the built-in miner (a Bitcoin-family pool with a payout_address)";
      if (miner_) return std::nullopt;  // already running
      try {
        miner_ = std::make_unique<miner::Miner>(*config_);
      } catch (const std::exception& e) {
        return std::string("the miner cannot start: ") + e.what();
      }
      thread_ = std::thread([m = miner_.get()] {
        int n = 0;
        m->run([&n](const miner::MinerStats& s) {
          if (n++ % 12 == 0)
            spdlog::info("cpu miner: {:.2f} kH/s, accepted {}, rejected {}", s.hashrate / 1000, s.accepted, s.rejected);
        });
      });
      spdlog::info("cpu miner: mining {} on {} with {} thread(s)", config_->algo, config_->urls[0],
                   config_->threads ? std::to_string(config_->threads) : std::string("all"));
    }
    stats::collector().set_miner_state(state());
    return std::nullopt;
  }

  std::optional<std::string> stop() {
    {
      std::lock_guard lock(mutex_);
      if (!miner_) return std::nullopt;
      miner_->stop();
      if (thread_.joinable()) thread_.join();
      miner_.reset();
      spdlog::info("cpu miner: stopped");
    }
    stats::collector().set_miner_state(state());
    return std::nullopt;
  }

  stats::MinerState state() const {
    std::lock_guard lock(mutex_);
    stats::MinerState s;
    s.running = miner_ != nullptr;
    if (config_) {
      s.algorithm = config_->algo;
      s.pool_url = config_->urls.empty() ? "" : config_->urls[0];
      s.threads = config_->threads ? config_->threads : std::thread::hardware_concurrency();
    }
    if (miner_) {
      auto m = miner_->stats();
      s.hashrate = m.hashrate, s.accepted = m.accepted, s.rejected = m.rejected, s.detail = m.last_error;
    } else {
      s.detail = config_ ? "stopped" : "no pool for the built-in miner";
    }
    return s;
  }

 private:
  std::optional<miner::MinerConfig> config_;
  mutable std::mutex mutex_;
  std::unique_ptr<miner::Miner> miner_;
  std::thread thread_;
};

// The built-in miner's settings: this node's first Bitcoin-family pool (else its first Monero
// pool, mined with RandomX over Monero-style Stratum), paying its payout address.
std::optional<miner::MinerConfig> builtin_miner_config(const config::Config& c) {
  const config::PoolConfig* target = nullptr;
  for (const auto& p : c.pools)
    if (!target && p.enable && (p.coin == "bitcoin" || p.coin == "litecoin") && p.daemon.configured()) target = &p;
  for (const auto& p : c.pools)
    if (!target && p.enable && p.coin == "monero" && p.daemon.configured()) target = &p;
  if (!target || target->payout_address.empty()) return std::nullopt;
  miner::MinerConfig mc;
  std::string host = target->address.host == "0.0.0.0" || target->address.host == "::" ? "127.0.0.1" : target->address.host;
  mc.urls = {"stratum+tcp://" + config::Address{host, target->address.port}.to_string()};
  mc.user = target->payout_address + ".local";
  mc.algo = target->algorithm;
  mc.threads = c.mining.cpu.threads;
  mc.report_interval = std::chrono::seconds(5);  // the dashboard's own-hashrate chart
  return mc;
}
// ---- API and statistics wiring (end) ---------------------------------------------------------

}  // namespace

int serve(const config::Config& c, const std::vector<std::string>& warnings) {
  try {
    setup_logging(c);
  } catch (const std::exception& e) {
    fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
  for (const auto& w : warnings) spdlog::warn("config: {}", w);
  spdlog::info("Otedama {} ({}) starting, mode {}, config {}", version(), git_commit(), config::to_string(c.app.mode),
               c.source);

  crypto::set_crypto_log([](std::string_view line) { spdlog::info("{}", line); });
  std::error_code ec;
  std::filesystem::create_directories(c.app.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create app.data_dir {}: {}", c.app.data_dir, ec.message());
    return kExitUsage;
  }
  raise_fd_limit(c);

  asio::io_context io(1);
  monitor::Components components;
  monitor::register_process_metrics(metrics());
  api::NodeInfo node{&c, &components, std::chrono::steady_clock::now()};

  // ---- accounting wiring (begin) -------------------------------------------------------------
  // The store and the pools' ledger (pool::Accounting): declared before `pools` so that it
  // outlives them (its destructor writes what is left and closes the store). The API's blocks,
  // payments and balances come from the store.
  std::unique_ptr<pool::Accounting> accounting;
  std::map<std::string, std::string> pool_of_coin;  // coin -> the first enabled pool's name
  for (const auto& p : c.pools)
    if (p.enable && !p.coin.empty()) pool_of_coin.emplace(p.coin, p.name);
  if (!pool_of_coin.empty()) {
    try {
      accounting = std::make_unique<pool::Accounting>(c);
    } catch (const std::exception& e) {
      spdlog::error("storage: {}", e.what());
      return kExitUsage;
    }
    accounting->start();
    store::Store* db = &accounting->store();
    auto coins_for = [pool_of_coin](const std::string& coin) {
      std::vector<std::string> out;
      for (const auto& [k, v] : pool_of_coin)
        if (coin.empty() || coin == k) out.push_back(k);
      return out;
    };
    auto atomic_per_coin = [](const std::string& coin) { return coin == "monero" ? 1e12 : 1e8; };
    node.data.blocks = [db, coins_for, atomic_per_coin, pool_of_coin](const std::string& coin, size_t offset,
                                                                      size_t limit) {
      std::vector<store::Block> all;
      for (const auto& k : coins_for(coin)) {
        auto b = db->blocks(k, std::nullopt, std::numeric_limits<uint32_t>::max());
        all.insert(all.end(), b.begin(), b.end());
      }
      std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.time_ms > b.time_ms; });
      // What the pools reported live (difficulty, effort, worker) joins the stored record.
      std::map<std::string, stats::Block> live;
      for (auto& b : stats::collector().blocks("", coin, 0, 1000).blocks) live[b.hash] = b;
      stats::BlockPage page;
      page.total = all.size();
      for (size_t i = offset; i < all.size() && page.blocks.size() < limit; ++i) {
        const auto& b = all[i];
        stats::Block v;
        if (auto it = live.find(b.hash); it != live.end()) v = it->second;
        v.pool = pool_of_coin.at(b.coin);
        v.coin = b.coin;
        v.height = uint64_t(b.height);
        v.hash = b.hash;
        if (v.miner.empty()) v.miner = b.finder;
        // The API's statuses: a stored pending block shows what the pool saw of its submission
        // (submitted/accepted/rejected), or accepted once the daemon counts confirmations.
        if (b.status != store::BlockStatus::pending) v.status = store::to_string(b.status);
        else if (b.confirmations > 0) v.status = "accepted";
        else if (!live.count(b.hash)) v.status = "submitted";
        v.reward = double(b.reward) / atomic_per_coin(b.coin);
        v.time = stats::Clock::time_point(std::chrono::milliseconds(b.time_ms));
        page.blocks.push_back(std::move(v));
      }
      return page;
    };
    node.data.payments = [db, coins_for, atomic_per_coin, pool_of_coin](const std::string& coin,
                                                                        const std::string& address, size_t offset,
                                                                        size_t limit) {
      std::vector<stats::Payment> all;  // one row per output of a signed, broadcast or confirmed payment
      for (const auto& k : coins_for(coin))
        for (const auto& p : db->payments(k, std::nullopt)) {
          if (p.txid.empty() || p.state == store::PaymentState::failed) continue;
          for (const auto& o : p.outputs) {
            if (!address.empty() && o.address != address && o.account != address) continue;
            stats::Payment v;
            v.pool = pool_of_coin.at(k);
            v.coin = k;
            v.address = o.address;
            v.amount = double(o.amount) / atomic_per_coin(k);
            v.txid = p.txid;
            v.time = stats::Clock::time_point(std::chrono::milliseconds(p.updated_ms));
            all.push_back(std::move(v));
          }
        }
      std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.time > b.time; });
      api::PaymentPage page;
      page.total = all.size();
      for (size_t i = offset; i < all.size() && page.payments.size() < limit; ++i) page.payments.push_back(all[i]);
      return page;
    };
    // PPS/FPPS: the operator's running balance (the coin's first pool sets its reward system).
    std::map<std::string, config::RewardSystem> system_of_coin;
    for (const auto& p : c.pools)
      if (p.enable && !p.coin.empty()) system_of_coin.emplace(p.coin, p.reward_system);
    node.data.operator_balance = [db, atomic_per_coin, system_of_coin](
                                     const std::string&, const std::string& coin) -> std::optional<api::OperatorBalance> {
      auto it = system_of_coin.find(coin);
      if (it == system_of_coin.end() ||
          (it->second != config::RewardSystem::PPS && it->second != config::RewardSystem::FPPS))
        return std::nullopt;
      auto t = db->reward_totals(coin);
      auto ob = accounting::operator_balance(t.blocks_confirmed, t.blocks_pending, t.share_credits);
      double f = atomic_per_coin(coin);
      return api::OperatorBalance{config::to_string(it->second), double(ob.confirmed) / f, double(ob.pending) / f,
                                  double(t.blocks_confirmed) / f, double(t.blocks_pending) / f,
                                  double(t.share_credits) / f};
    };
    node.data.balances = [db, coins_for, atomic_per_coin](const std::string& address, const std::string& coin) {
      std::vector<api::Balance> out;
      for (const auto& k : coins_for(coin)) {
        auto b = db->balance(k, address);
        if (!b.pending && !b.payable && !b.reserved && !b.paid) continue;
        double f = atomic_per_coin(k);
        out.push_back({k, double(b.payable + b.reserved) / f, double(b.pending) / f, double(b.paid) / f});
      }
      return out;
    };
  }
  // ---- accounting wiring (end) ---------------------------------------------------------------

  std::vector<std::unique_ptr<pool::Pool>> pools;
  // ---- P2P wiring (begin): with p2p.enable, the first Bitcoin-family pool mines on the share
  // chain (docs/p2p.md): its coinbases pay the chain's PPLNS window, nothing is accounted here.
  std::shared_ptr<p2p::Node> p2p_node;
  std::string p2p_pool;
  pool::Pool::FailoverSource p2p_failover_source;  // peers' Stratum ports, for daemon loss
  if (c.p2p.enable) {
    for (const auto& p : c.pools)
      if (p.enable && (p.coin == "litecoin" || p.coin == "bitcoin") && p.daemon.configured()) {
        p2p_pool = p.name;
        try {
          p2p::NodeConfig nc;
          const std::string& name = c.p2p.network;
          chain::Network net = name.rfind("regtest", 0) == 0   ? chain::Network::regtest
                               : name.rfind("testnet", 0) == 0 ? chain::Network::test
                                                               : chain::Network::main;
          nc.params = p2p::ChainParams::for_network(
              chain::coin_from_string(p.coin), net, name,
              uint32_t(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(c.p2p.share_time).count())));
          nc.data_dir = (std::filesystem::path(c.app.data_dir) / ("p2p-" + name)).string();
          nc.listen_host = c.p2p.address.host;
          nc.listen_port = c.p2p.address.port;
          nc.seeds = c.p2p.peers;
          nc.max_peers = c.p2p.max_peers;
          nc.outbound_peers = c.p2p.outbound_peers;
          nc.handshake_pow_bits = c.p2p.handshake_pow_bits;
          nc.ban_time = std::chrono::duration_cast<std::chrono::seconds>(c.p2p.ban_time);
          nc.stratum_port = p.address.port;
          p2p_node = std::make_shared<p2p::Node>(io, nc);
          p2p_node->start();
        } catch (const std::exception& e) {
          spdlog::error("p2p: {} (set by p2p.*)", e.what());
          return kExitUsage;
        }
        components.set("p2p", true, "share chain '" + c.p2p.network + "' for pool " + p.name);
        break;
      }
    if (!p2p_node) {
      spdlog::error("p2p.enable needs an enabled bitcoin or litecoin pool with a coin daemon");
      return kExitUsage;
    }
    node.peers = [p2p_node] {
      std::vector<api::PeerView> out;
      uint64_t h = p2p_node->status().height;
      for (auto& pr : p2p_node->peers()) out.push_back({pr.address, !pr.inbound, pr.ping_ms, h});
      return out;
    };
    node.p2p.status_json = [p2p_node] {
      auto st = p2p_node->status();
      nlohmann::json j = {{"network", st.network},      {"network_id", st.network_id_hex},
                          {"height", st.height},        {"tip", st.tip},
                          {"share_difficulty", st.share_difficulty},
                          {"shares", st.shares},        {"orphans", st.orphans},
                          {"blocks_found", st.blocks},  {"last_share_time", st.last_share_unix},
                          {"share_time", p2p_node->params().share_time},
                          {"window_size", p2p_node->params().window},
                          {"peers", nlohmann::json::array()}, {"window", nlohmann::json::array()},
                          {"blocks", nlohmann::json::array()}};
      for (auto& pr : p2p_node->peers())
        j["peers"].push_back({{"address", pr.address}, {"listen", pr.listen}, {"inbound", pr.inbound},
                              {"stratum_port", pr.stratum_port}, {"ping_ms", pr.ping_ms}, {"ban_score", pr.ban_score},
                              {"user_agent", pr.user_agent}});
      for (auto& m : p2p_node->window_miners())
        j["window"].push_back({{"payout_script", m.script_hex}, {"shares", m.shares}, {"work", m.work},
                               {"expected_payout", m.expected_payout}});
      for (auto& b : p2p_node->blocks(100))
        j["blocks"].push_back({{"hash", b.hash}, {"coin_height", b.coin_height}, {"share_height", b.share_height},
                               {"finder_script", b.finder_script_hex}, {"reward", b.reward}, {"time", b.time_unix}});
      return j.dump();
    };
    node.p2p.shares_json = [p2p_node](size_t limit) {
      nlohmann::json arr = nlohmann::json::array();
      for (auto& v : p2p_node->shares(limit))
        arr.push_back({{"height", v.height}, {"hash", v.hash}, {"prev", v.prev}, {"payout_script", v.payout_script_hex},
                       {"bits", v.bits}, {"time", v.time}, {"work", v.work}, {"block", v.block},
                       {"coin_height", v.coin_height}, {"reward", v.reward}});
      return nlohmann::json{{"shares", arr}}.dump();
    };
    node.p2p.ban = [p2p_node](const std::string& peer, int64_t seconds) -> std::string {
      try {
        p2p_node->ban(peer, std::chrono::seconds(seconds));
        return "";
      } catch (const std::exception& e) {
        return e.what();
      }
    };
    node.p2p.unban = [p2p_node](const std::string& peer) { return p2p_node->unban(peer); };
    pool::Pool::FailoverSource p2p_failover = [p2p_node]() -> std::optional<config::Address> {
      for (auto& pr : p2p_node->peers()) {
        if (!pr.stratum_port) continue;
        auto host = pr.address.substr(0, pr.address.rfind(':'));
        if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
        return config::Address{host, pr.stratum_port};
      }
      return std::nullopt;
    };
    p2p_failover_source = p2p_failover;
  }
  // Federation (docs/p2p.md): links to independent pools; new blocks are announced both ways
  // (a notice makes our pools fetch a new template at once), health goes out every 2 s, and a
  // pool that loses its daemon sends its miners to a linked pool that says it is healthy.
  std::shared_ptr<p2p::Federation> federation;
  if (c.p2p.federation.enable) {
    try {
      p2p::FederationConfig fc;
      fc.key = std::make_shared<const p2p::Ed25519Key>(p2p::Ed25519Key::load(c.p2p.federation.key_file));
      fc.name = c.app.name;
      fc.listen = bool(c.p2p.federation.listen);
      if (c.p2p.federation.listen) {
        fc.listen_host = c.p2p.federation.listen->host;
        fc.listen_port = c.p2p.federation.listen->port;
      }
      for (const auto& fp : c.p2p.federation.peers)
        fc.peers.push_back({fp.name, fp.address ? fp.address->to_string() : "", p2p::parse_public_key(fp.public_key)});
      p2p::Federation::Callbacks cb;
      cb.on_link = [](const std::string& peer, bool up) {
        spdlog::info("federation: link to {} {}", peer, up ? "up" : "down");
      };
      cb.on_block_notice = [&pools, &c](const std::string& peer, const p2p::BlockNotice& n) {
        spdlog::info("federation: {} announced {} block {} at height {}", peer, n.coin, to_hex(n.hash), n.height);
        for (size_t i = 0; i < pools.size(); ++i)
          if (pools[i]->snapshot().coin == n.coin) pools[i]->block_notify();
        (void)c;
      };
      federation = std::make_shared<p2p::Federation>(io, fc, cb);
      federation->start();
    } catch (const std::exception& e) {
      spdlog::error("federation: {} (set by p2p.federation)", e.what());
      return kExitUsage;
    }
    components.set("federation", true, "listening on port " + std::to_string(federation->port()));
    // Our found blocks go out as notices (the pools report them to the statistics collector).
    stats::collector().subscribe([weak = std::weak_ptr<p2p::Federation>(federation)](const stats::Event& e) {
      if (e.kind != stats::Event::Kind::block) return;
      auto fed = weak.lock();
      if (!fed) return;
      const auto& b = std::get<stats::Block>(e.data);
      if (b.status != "submitted") return;
      Hash256 h{};
      try {
        h = hash_from_hex(b.hash);
      } catch (const std::invalid_argument&) {
        return;
      }
      fed->announce_block({b.coin, b.height, h,
                           std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()});
    });
  }
  // ---- P2P wiring (end)

  std::vector<Listener> listeners;

  // ---- API and statistics wiring (begin) -----------------------------------------------------
  // Pools feed stats::collector() from their share paths; the API reads it and pushes its
  // events over the WebSocket. Blocks come from what the pools report, payments are none until
  // a payout store is wired into node.data.
  for (const auto& p : c.pools)
    if (p.enable)
      if (auto factor = stats::hashes_per_difficulty1(p.algorithm))
        stats::collector().register_pool(p.name, p.coin, p.algorithm, *factor);
  BuiltinMiner builtin_miner(builtin_miner_config(c));
  node.stats = &stats::collector();
  stats::register_metrics(metrics(), stats::collector());
  metrics().add_collector([&components](Metrics& m) {
    for (const auto& s : components.snapshot())
      m.gauge("otedama_component_ready", "1 when the component is ready (what /ready reports).", {{"component", s.name}})
          .set(s.ready ? 1 : 0);
  });
  node.pools = [&pools] {
    std::vector<api::PoolView> out;
    for (const auto& p : pools) {
      auto s = p->snapshot();
      out.push_back({s.name, s.coin, s.algorithm, s.height, s.network_difficulty, s.connections});
    }
    return out;
  };
  if (builtin_miner.available())
    node.miner = {[&] { return builtin_miner.state(); }, [&] { return builtin_miner.start(); },
                  [&] { return builtin_miner.stop(); }};
  std::unique_ptr<api::ApiServer> api_server;
  // Network height and difficulty for effort, every 2 s from the pools' snapshots.
  asio::steady_timer network_timer(io);
  std::function<void()> network_tick = [&] {
    for (const auto& p : pools) {
      auto s = p->snapshot();
      stats::collector().set_network(s.name, s.height, s.network_difficulty);
    }
    if (federation) {  // P2P wiring: our pools' health for the federated pools
      auto states = components.snapshot();
      for (const auto& p : pools) {
        auto s = p->snapshot();
        bool ok = false;
        for (const auto& st : states)
          if (st.name == "pool:" + s.name) ok = st.ready;
        uint16_t port = p->stratum_port();
        federation->set_health({s.coin, ok, s.height, uint32_t(s.connections), 0, "", port,
                                std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count()});
      }
    }
    stats::collector().set_miner_state(builtin_miner.state());
    network_timer.expires_after(std::chrono::seconds(2));
    network_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) network_tick();
    });
  };
  // ---- API and statistics wiring (end) -------------------------------------------------------
  if (c.monitoring.health.enabled) {
    auto r = std::make_shared<http::Router>();
    monitor::add_health_routes(*r, components);
    // The coin daemon's -blocknotify hook (`otedama blocknotify`): loopback callers only.
    r->add("POST", "/notify/block", [&pools](const http::Request& req) {
      if (req.remote_ip != "127.0.0.1" && req.remote_ip != "::1" && req.remote_ip != "::ffff:127.0.0.1")
        return http::Response::error(403, "block notifications are accepted from loopback only");
      std::string only = req.query.count("pool") ? req.query.at("pool") : "";
      int notified = 0;
      for (auto& p : pools)
        if (only.empty() || p->snapshot().name == only) p->block_notify(), ++notified;
      if (!only.empty() && notified == 0) return http::Response::error(404, "no pool named '" + only + "'");
      return http::Response::json(200, "{\"notified\":" + std::to_string(notified) + "}");
    });
    listeners.push_back({"health", "monitoring.health.address", c.monitoring.health.address, r});
  }
  if (c.monitoring.metrics.enabled) {
    auto r = std::make_shared<http::Router>();
    monitor::add_metrics_routes(*r, metrics());
    listeners.push_back({"metrics", "monitoring.metrics.address", c.monitoring.metrics.address, r});
  }
  if (c.api.enable) {
    auto r = std::make_shared<http::Router>();
    try {
      api_server = std::make_unique<api::ApiServer>(io, node);  // API and statistics wiring
    } catch (const std::exception& e) {
      spdlog::error("api: {}", e.what());
      return kExitUsage;
    }
    api_server->add_routes(*r);
    listeners.push_back({"api", "api.address", c.api.address, r});
  }

  // Bind every listener before serving anything: a port in use refuses the start.
  std::vector<std::unique_ptr<http::Server>> servers;
  for (const auto& l : listeners) {
    auto s = std::make_unique<http::Server>(io, l.name, l.router);
    try {
      s->listen(l.address.host, l.address.port);
    } catch (const std::exception& e) {
      spdlog::error("{} (set by {})", e.what(), l.key);
      return kExitUsage;
    }
    components.set(l.name, true, "listening on " + l.address.to_string());
    servers.push_back(std::move(s));
  }

  // Pools: a pool without a coin daemon is reported, not fatal (the example config validates).
  // Each pool binds its Stratum port now; the daemon is contacted in the background.
  for (const auto& p : c.pools) {
    if (!p.enable) continue;
    std::string component = "pool:" + p.name;
    if (!p.daemon.configured()) {
      components.set(component, false, "no coin daemon configured (pool.daemon.url)");
    } else if (p.coin == "bitcoin" || p.coin == "litecoin" || p.coin == "monero") {
      std::unique_ptr<pool::Pool> pp;
      try {
        pp = pool::make_pool(
            io, p,
            [&components, component](bool ready, const std::string& detail) { components.set(component, ready, detail); },
            accounting && p.name != p2p_pool ? accounting->ledger() : nullptr,  // accounting wiring
            p.name == p2p_pool ? p2p_node : nullptr);                             // P2P wiring
        // P2P wiring: where miners go when this pool loses its daemon: a healthy federated pool
        // (asked to take them over), else a share-chain peer's Stratum port.
        pp->set_failover_source([fed = federation.get(), coin = p.coin,
                                 peers = p.name == p2p_pool ? p2p_failover_source : pool::Pool::FailoverSource{}]()
                                    -> std::optional<config::Address> {
          if (fed) {
            fed->request_takeover(coin, 0);
            if (auto e = fed->healthy_stratum_for(coin)) return config::Address{e->first, e->second};
          }
          if (peers) return peers();
          return std::nullopt;
        });
        pp->start();
      } catch (const std::exception& e) {
        spdlog::error("pool {}: {}", p.name, e.what());  // start() names the config key
        return kExitUsage;
      }
      spdlog::info("pool {} ({} / {}) {} listening on {}", p.name, p.coin, p.algorithm,
                   p.coin == "monero" ? "Monero-style Stratum" : "Stratum", p.address.to_string());
      pools.push_back(std::move(pp));
    } else {
      components.set(component, false,
                     "pool serving for coin '" + (p.coin.empty() ? std::string("none (pool.coin)") : p.coin) +
                         "' is not available in this build yet");
    }
  }

  // ---- API and statistics wiring (begin): the built-in CPU miner starts with the node when
  // mining.enable_cpu is set; /api/mining/start|stop control it afterwards.
  if (c.mining.enable_cpu && !pools.empty() && builtin_miner.available()) builtin_miner.start();
  if (api_server) api_server->start();
  network_tick();
  // ---- API and statistics wiring (end)

  for (auto& s : servers) s->start();
  for (const auto& l : listeners) spdlog::info("{} listening on {}", l.name, l.address.to_string());

  // Graceful stop: stop accepting, let in-flight responses drain (at most 5 s), exit 0.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  auto deadline = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_drained = [&] {
    size_t active = 0;
    for (auto& s : servers) active += s->active_connections();
    if (active == 0 || std::chrono::steady_clock::now() >= *deadline) {
      if (active) spdlog::warn("closing {} connections that did not finish in time", active);
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](const boost::system::error_code&) { wait_drained(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
    builtin_miner.stop();  // API and statistics wiring
    if (api_server) api_server->stop();
    network_timer.cancel();
    for (auto& p : pools) p->stop();
    if (p2p_node) p2p_node->stop();  // P2P wiring
    if (federation) federation->stop();
    for (auto& s : servers) s->stop();
    *deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(4500);
    wait_drained();
  });

  io.run();
  builtin_miner.stop();
  pools.clear();
  servers.clear();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace otedama::app
