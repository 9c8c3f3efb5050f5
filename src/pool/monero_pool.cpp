// The Monero pool. A template thread follows monerod (templates, new blocks from its ZMQ
// json-minimal-chain_main notifications or by 1 s polling of /get_height, back-off while it is down); the node's loop runs the Monero-style Stratum server;
// RandomX share checks run on a pool of worker threads, each with its own VMs, so that no
// connection waits on another's hash; a found block goes to a submit thread at once.
//
// Per connection and job, the template's reserved area in the miner transaction's extra gets
// 8 bytes: the session id (4 bytes) and a per-pool job counter (4 bytes). Every job thus has
// its own hashing blob, so a nonce found on one job can never count again on another.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <random>
#include <thread>

#include "chain/chain.h"
#include "crypto/crypto.h"
#include "crypto/randomx.h"
#include "pool/ledger.h"
#include "pool/pool.h"
#include "pool/stats_feed.h"
#include "pool/task_thread.h"
#include "stratum/stratum.h"

namespace otedama::pool {

namespace asio = boost::asio;
namespace xmr = chain::monero;
using steady = std::chrono::steady_clock;

namespace {

constexpr size_t kReserveSize = 8;

struct MoneroJobContext {
  std::shared_ptr<const xmr::BlockTemplate> tpl;
  xmr::BlockWork work;
};

double seconds_now() { return std::chrono::duration<double>(steady::now().time_since_epoch()).count(); }

// MemAvailable from /proc/meminfo, bytes; 0 when unknown.
uint64_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// What a hash is worth in Monero difficulty, from its top 64 bits (as miners measure it).
double hash_difficulty(const Hash256& h) {
  uint64_t top = 0;
  for (int i = 7; i >= 0; --i) top = top << 8 | h[24 + i];
  return top == 0 ? 1.8446744073709552e19 : 1.8446744073709552e19 / double(top);
}

}  // namespace

struct MoneroPool::Impl : stratum::Handler, std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  config::PoolConfig cfg;
  StatusCallback status;
  std::shared_ptr<Ledger> ledger;  // accounting (null: shares and blocks are not recorded)
  std::unique_ptr<stratum::Server> server;
  std::unique_ptr<xmr::RpcClient> rpc, submit_rpc;
  VardiffConfig vardiff_cfg;
  bool want_fast = false;  // check with the dataset once it is built
  crypto::RandomXContexts* contexts = nullptr;

  std::atomic<bool> ready{false};  // the payout address was checked against the daemon
  std::thread template_thread;
  TaskThread submitter;  // block submissions
  std::vector<std::thread> workers;
  std::mutex wake_mutex;
  std::condition_variable wake;
  bool wake_flag = false;
  std::atomic<bool> stopping{false};


  // Share checks for the worker threads.
  std::mutex check_mutex;
  std::condition_variable check_cv;
  std::deque<std::function<void(crypto::RandomXHasher& light, crypto::RandomXHasher* fast)>> checks;

  // The loop's view: the current template and the job counter.
  std::shared_ptr<const xmr::BlockTemplate> current;
  uint32_t job_counter = 0;
  uint32_t instance_salt = 0;

  mutable std::mutex snap_mutex;
  PoolSnapshot snap;

  Counter *shares_valid, *shares_stale, *shares_duplicate, *shares_low, *shares_invalid;
  Counter *blocks_found, *blocks_accepted, *blocks_rejected;
  Counter *checks_fast, *checks_light;
  Histogram* check_seconds;
  Gauge* queue_depth;
  Gauge* fast_ready;

  Impl(asio::io_context& io_, const config::PoolConfig& c, StatusCallback s, std::shared_ptr<Ledger> l)
      : io(io_), cfg(c), status(std::move(s)), ledger(std::move(l)) {
    if (cfg.coin != "monero") throw std::invalid_argument("pool '" + cfg.name + "': coin '" + cfg.coin + "' is not Monero");
    if (!cfg.daemon.configured()) throw std::invalid_argument("pool '" + cfg.name + "': no coin daemon configured");
    xmr::RpcOptions ro;
    ro.url = cfg.daemon.url;
    ro.user = cfg.daemon.user;
    ro.password = cfg.daemon.password;
    ro.timeout = std::chrono::seconds(10);
    rpc = std::make_unique<xmr::RpcClient>(ro);
    submit_rpc = std::make_unique<xmr::RpcClient>(ro);

    vardiff_cfg.target_share_time = std::chrono::duration<double>(cfg.difficulty.target_share_time).count();
    vardiff_cfg.min_difficulty = std::max(1.0, cfg.difficulty.min);
    vardiff_cfg.max_difficulty = std::max(vardiff_cfg.min_difficulty, cfg.difficulty.max);

    uint64_t avail = available_memory();
    want_fast = cfg.randomx_mode == "fast" || (cfg.randomx_mode == "auto" && avail > (3ull << 30));
    if (cfg.randomx_mode == "auto")
      spdlog::info("pool {}: RandomX share checks in {} mode ({} MiB available)", cfg.name,
                   want_fast ? "fast (light until the dataset is built)" : "light", avail >> 20);
    contexts = &crypto::RandomXContexts::shared();
    std::random_device rd;
    instance_salt = rd();

    stratum::ServerConfig sc;
    sc.name = cfg.name;
    sc.protocol = stratum::Protocol::monero;
    sc.nicehash = cfg.nicehash;
    sc.max_connections = cfg.max_connections;
    sc.initial_difficulty = std::max(1.0, cfg.difficulty.initial);
    sc.min_difficulty = vardiff_cfg.min_difficulty;
    sc.max_difficulty = vardiff_cfg.max_difficulty;
    sc.max_line = 4096;  // Monero requests are small; XMRig's login is a few hundred bytes
    server = std::make_unique<stratum::Server>(io, sc, *this);

    auto& m = metrics();
    Labels base = {{"coin", cfg.coin}, {"pool", cfg.name}};
    auto with = [&](const char* k, const char* v) {
      Labels l = base;
      l.emplace_back(k, v);
      return l;
    };
    const char* help = "Shares received, by result.";
    shares_valid = &m.counter("otedama_shares_total", help, with("result", "valid"));
    shares_stale = &m.counter("otedama_shares_total", help, with("result", "stale"));
    shares_duplicate = &m.counter("otedama_shares_total", help, with("result", "duplicate"));
    shares_low = &m.counter("otedama_shares_total", help, with("result", "low_difficulty"));
    shares_invalid = &m.counter("otedama_shares_total", help, with("result", "invalid"));
    blocks_found = &m.counter("otedama_blocks_found_total", "Shares that met the network target.", base);
    blocks_accepted = &m.counter("otedama_blocks_accepted_total", "Found blocks the daemon accepted.", base);
    blocks_rejected = &m.counter("otedama_blocks_rejected_total", "Found blocks the daemon rejected.", base);
    checks_fast = &m.counter("otedama_randomx_checks_total", "RandomX share checks by mode.", with("mode", "fast"));
    checks_light = &m.counter("otedama_randomx_checks_total", "RandomX share checks by mode.", with("mode", "light"));
    check_seconds = &m.histogram("otedama_share_check_seconds", "Time to check one share (header rebuild and PoW).",
                                 {1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1}, base);
    queue_depth = &m.gauge("otedama_randomx_check_queue", "Shares waiting for a RandomX check.", base);
    fast_ready = &m.gauge("otedama_randomx_fast_ready",
                          "1 when the current key's 2 GiB dataset is built and checks run in fast mode.", base);
    snap.name = cfg.name;
    snap.coin = cfg.coin;
    snap.algorithm = cfg.algorithm;
  }

  // ---- the template thread ---------------------------------------------------------------

  void wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(wake_mutex);
    wake.wait_for(lock, d, [&] { return wake_flag || stopping.load(); });
    wake_flag = false;
  }

  void template_loop() {
    auto backoff = std::chrono::milliseconds(500);
    std::string last_top;
    auto last_publish = steady::now();
    Hash256 last_seed{}, last_next_seed{};
    std::unique_ptr<xmr::ChainSubscriber> zmq;
    if (!cfg.daemon.zmq.empty()) {
      try {
        zmq = std::make_unique<xmr::ChainSubscriber>(cfg.daemon.zmq);
        spdlog::info("pool {}: new blocks from monerod's ZMQ at {}", cfg.name, cfg.daemon.zmq);
      } catch (const std::exception& e) {
        spdlog::warn("pool {}: daemon.zmq: {}; polling monerod every second instead", cfg.name, e.what());
      }
    }
    while (!stopping) {
      try {
        if (!ready) {
          xmr::DaemonInfo info = rpc->get_info();
          xmr::NetType net = xmr::nettype_from_string(info.nettype);
          if (auto why = xmr::mining_address_error(cfg.payout_address, net)) {
            status(false, "pool.payout_address is not a usable Monero " + std::string(xmr::to_string(net)) +
                              " address: " + *why);
            spdlog::error("pool {}: payout_address '{}': {}", cfg.name, cfg.payout_address, *why);
            wait_for(std::chrono::seconds(30));
            continue;
          }
          net_type = net;
          ready = true;
          spdlog::info("pool {}: monerod {} ({}), paying {}", cfg.name, cfg.daemon.url, info.nettype, cfg.payout_address);
        }
        auto tpl = std::make_shared<xmr::BlockTemplate>(rpc->get_block_template(cfg.payout_address, kReserveSize));
        std::string top = to_hex(tpl->prev_hash);
        bool new_tip = top != last_top;
        if (tpl->seed_hash != last_seed) {  // a new RandomX key: build its dataset in the background
          if (want_fast) contexts->prepare(tpl->seed_hash, crypto::RandomXMode::fast);
          last_seed = tpl->seed_hash;
        }
        // The next epoch's key is known up to 64 blocks ahead: have it ready before the switch.
        if (tpl->next_seed_hash && *tpl->next_seed_hash != tpl->seed_hash && *tpl->next_seed_hash != last_next_seed) {
          contexts->prepare(*tpl->next_seed_hash, want_fast ? crypto::RandomXMode::fast : crypto::RandomXMode::light);
          last_next_seed = *tpl->next_seed_hash;
        }
        publish(tpl, new_tip);
        last_top = top;
        last_publish = steady::now();
        status(true, "serving height " + std::to_string(tpl->height) + " on " + cfg.address.to_string());
        backoff = std::chrono::milliseconds(500);
        // New blocks: poll the daemon's height/top hash every second (cheap); refresh the template
        // every 30 s for new transactions.
        // With daemon.zmq, monerod's json-minimal-chain_main notifications say so at once, and
        // the poll only backs them up (every 5 s).
        auto last_poll = steady::now();
        while (!stopping && steady::now() - last_publish < std::chrono::seconds(30)) {
          if (zmq) {
            if (zmq->wait(std::chrono::milliseconds(250))) break;
          } else {
            wait_for(std::chrono::milliseconds(1000));
          }
          if (stopping) break;
          {
            std::lock_guard lock(wake_mutex);
            if (wake_flag) {
              wake_flag = false;
              break;
            }
          }
          if (want_fast) fast_ready->set(contexts->find(ByteSpan(last_seed), crypto::RandomXMode::fast) ? 1 : 0);
          if (zmq && steady::now() - last_poll < std::chrono::seconds(5)) continue;
          last_poll = steady::now();
          auto h = rpc->call_path("/get_height");
          if (h.value("hash", std::string()) != top) break;
        }
        continue;
      } catch (const chain::AuthError& e) {
        status(false, std::string("monerod refused our credentials: ") + e.what());
        spdlog::error("pool {}: {}", cfg.name, e.what());
      } catch (const chain::RpcError& e) {
        status(false, "monerod: " + e.message + " (" + e.method + ", code " + std::to_string(e.code) + ")");
        spdlog::warn("pool {}: {} failed: {} ({})", cfg.name, e.method, e.message, e.code);
      } catch (const chain::ChainError& e) {
        status(false, std::string("monerod unreachable: ") + e.what());
        spdlog::warn("pool {}: daemon: {}", cfg.name, e.what());
      } catch (const std::exception& e) {
        status(false, std::string("bad answer from monerod: ") + e.what());
        spdlog::warn("pool {}: {}", cfg.name, e.what());
      }
      if (stopping) break;
      wait_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    }
  }

  xmr::NetType net_type = xmr::NetType::mainnet;

  void publish(std::shared_ptr<const xmr::BlockTemplate> tpl, bool clean) {
    {
      std::lock_guard lock(snap_mutex);
      snap.height = tpl->height;
      snap.network_difficulty = tpl->difficulty.to_double();
    }
    // accounting: expected_reward includes the fees; it serves as the PPS and FPPS value
    if (ledger) ledger->set_network(cfg.coin, tpl->difficulty.to_double(), int64_t(tpl->expected_reward), 0);
    asio::post(io, [self = shared_from_this(), tpl = std::move(tpl), clean] {
      self->current = tpl;
      double now = seconds_now();
      std::vector<stratum::SessionId> ids;
      self->server->for_each_session([&](stratum::Session& s) {
        if (!s.authorized()) return;
        auto vd = std::static_pointer_cast<Vardiff>(s.user_data());
        if (vd && !s.difficulty_fixed())
          if (auto d = vd->on_tick(now)) s.set_difficulty(*d);
        ids.push_back(s.id());
      });
      for (auto id : ids) self->push_job(id, clean);
    });
  }

  // On the loop: a fresh job for one session.
  void push_job(stratum::SessionId id, bool clean) {
    stratum::Session* s = server->find(id);
    if (!s) return;
    auto job = make_job(*s, clean);
    if (!job) return;
    try {
      server->send_monero_job(id, std::move(*job));
    } catch (const std::exception& e) {
      spdlog::error("pool {}: job for session {}: {}", cfg.name, id, e.what());
    }
  }

  std::optional<stratum::MoneroJob> make_job(stratum::Session& session, bool clean) {
    if (!current) return std::nullopt;
    uint32_t counter = ++job_counter;
    Bytes extra(kReserveSize);
    uint32_t sid = uint32_t(session.id()) ^ instance_salt;
    for (int i = 0; i < 4; ++i) extra[i] = uint8_t(sid >> (8 * i)), extra[4 + i] = uint8_t(counter >> (8 * i));
    auto ctx = std::make_shared<MoneroJobContext>();
    ctx->tpl = current;
    ctx->work = xmr::make_work(*current, extra);
    if (cfg.nicehash) {  // the session's own top nonce byte, kept by the miner
      ctx->work.hashing_blob[ctx->work.nonce_offset + 3] = session.nonce_byte();
      ctx->work.block_blob[ctx->work.nonce_offset + 3] = session.nonce_byte();
    }
    uint64_t diff = uint64_t(std::clamp(session.difficulty(), 1.0, 1.8e19));
    stratum::MoneroJob job;
    char idbuf[17];
    std::snprintf(idbuf, sizeof idbuf, "%x", counter);
    job.id = idbuf;
    job.blob_hex = to_hex(ctx->work.hashing_blob);
    job.nonce_offset = ctx->work.nonce_offset;
    job.target_hex = xmr::stratum_target_hex(diff, diff <= 0xffffffffull / 16 ? 8 : 16);
    job.difficulty = xmr::difficulty_from_stratum_target(job.target_hex);
    job.height = current->height;
    job.seed_hash_hex = to_hex(current->seed_hash);
    if (current->next_seed_hash) job.next_seed_hash_hex = to_hex(*current->next_seed_hash);
    job.clean = clean;
    job.context = ctx;
    return job;
  }

  // ---- Stratum handler (on the loop) --------------------------------------------------------

  stratum::AuthResult authorize(stratum::Session& session, const stratum::WorkerName& worker,
                                std::string_view) override {
    if (!ready) return {false, "the pool is not ready (no contact with monerod yet)"};
    if (auto why = xmr::mining_address_error(worker.address, net_type))
      return {false, "Invalid address: '" + worker.address.substr(0, 120) + "': " + *why};
    if (!session.user_data())
      session.user_data() = std::make_shared<Vardiff>(vardiff_cfg, session.difficulty(), seconds_now());
    return {true, ""};
  }

  std::optional<stratum::MoneroJob> monero_job(stratum::Session& session) override {
    return make_job(session, false);
  }

  void check_monero_share(stratum::Session& session, stratum::MoneroShare share, stratum::ShareDone done) override {
    auto ctx = std::static_pointer_cast<const MoneroJobContext>(share.job->context);
    if (!ctx) return done(stratum::ShareResult::rejected(stratum::error::job_not_found, "Invalid job id"));
    size_t depth;
    {
      std::lock_guard lock(check_mutex);
      checks.push_back([self = shared_from_this(), ctx, share = std::move(share), done = std::move(done),
                        sid = session.id()](crypto::RandomXHasher& light, crypto::RandomXHasher* fast) {
        self->check(light, fast, *ctx, share, done, sid);
      });
      depth = checks.size();
    }
    queue_depth->set(double(depth));
    check_cv.notify_one();
  }

  // On a worker thread.
  void check(crypto::RandomXHasher& light, crypto::RandomXHasher* fast, const MoneroJobContext& ctx,
             const stratum::MoneroShare& share, const stratum::ShareDone& done, stratum::SessionId sid) {
    auto t0 = steady::now();
    Bytes input = ctx.work.hashing_blob_with_nonce(share.nonce);
    const Hash256& seed = ctx.tpl->seed_hash;
    Hash256 pow;
    if (fast && contexts->find(ByteSpan(seed), crypto::RandomXMode::fast)) {
      pow = fast->hash(seed, input);
      checks_fast->inc();
    } else {
      pow = light.hash(seed, input);
      checks_light->inc();
    }
    check_seconds->observe(std::chrono::duration<double>(steady::now() - t0).count());
    double measured = hash_difficulty(pow);
    if (pow != share.claimed_result) {
      shares_invalid->inc();
      feed_share(cfg.name, share.worker, double(share.job->difficulty), stats::ShareResult::invalid);
      count([](PoolSnapshot& s) { ++s.shares_invalid; });
      return done(stratum::ShareResult::rejected(stratum::error::other, "Invalid result", measured));
    }
    if (!xmr::hash_meets_difficulty(pow, share.job->difficulty)) {
      shares_low->inc();
      feed_share(cfg.name, share.worker, double(share.job->difficulty), stats::ShareResult::low_difficulty);
      count([](PoolSnapshot& s) { ++s.shares_invalid; });
      return done(stratum::ShareResult::rejected(stratum::error::low_difficulty, "Low difficulty share", measured));
    }
    bool block = xmr::hash_meets_difficulty(pow, ctx.tpl->difficulty);
    uint64_t seq =
        ledger ? ledger->share(cfg.coin, share.worker, double(share.job->difficulty), int64_t(ctx.tpl->height), block) : 0;
    if (block) submit_block(ctx, share);
    shares_valid->inc();
    feed_share(cfg.name, share.worker, double(share.job->difficulty), stats::ShareResult::valid);
    count([](PoolSnapshot& s) { ++s.shares_valid; });
    // The miner hears "OK" only once the share is on disk (docs/operations.md).
    if (seq) ledger->on_durable(seq, [done, result = stratum::ShareResult::accepted(measured, block)] { done(result); });
    else done(stratum::ShareResult::accepted(measured, block));
    // Vardiff on the loop, where the session lives.
    asio::post(io, [self = shared_from_this(), sid, diff = double(share.job->difficulty)] {
      stratum::Session* s = self->server->find(sid);
      if (!s || s->difficulty_fixed()) return;
      auto vd = std::static_pointer_cast<Vardiff>(s->user_data());
      if (!vd) return;
      if (auto d = vd->on_share(seconds_now(), diff)) {
        s->set_difficulty(*d);
        self->push_job(sid, false);
      }
    });
  }

  template <class F>
  void count(F f) {
    std::lock_guard lock(snap_mutex);
    f(snap);
  }

  void worker_loop() {
    crypto::RandomXHasher light(crypto::RandomXMode::light, *contexts);
    std::unique_ptr<crypto::RandomXHasher> fast;
    if (want_fast) fast = std::make_unique<crypto::RandomXHasher>(crypto::RandomXMode::fast, *contexts);
    while (true) {
      std::function<void(crypto::RandomXHasher&, crypto::RandomXHasher*)> task;
      size_t depth;
      {
        std::unique_lock lock(check_mutex);
        check_cv.wait(lock, [&] { return stopping.load() || !checks.empty(); });
        if (checks.empty()) return;
        task = std::move(checks.front());
        checks.pop_front();
        depth = checks.size();
      }
      queue_depth->set(double(depth));
      try {
        task(light, fast.get());
      } catch (const std::exception& e) {  // e.g. out of memory for a new key's cache
        spdlog::error("pool {}: share check failed: {}", cfg.name, e.what());
      }
    }
  }

  void submit_block(const MoneroJobContext& ctx, const stratum::MoneroShare& share) {
    blocks_found->inc();
    Bytes block = ctx.work.block_with_nonce(share.nonce);
    Hash256 id = xmr::block_id_from_hashing_blob(ctx.work.hashing_blob_with_nonce(share.nonce));
    std::string hash = to_hex(id);
    uint64_t height = ctx.tpl->height;
    spdlog::info("pool {}: share from {} meets the network target: block {} at height {}", cfg.name, share.worker,
                 hash, height);
    feed_block(cfg.name, cfg.coin, height, hash, share.worker, ctx.tpl->difficulty.to_double());
    if (ledger) ledger->block({cfg.coin, int64_t(height), hash, int64_t(ctx.tpl->expected_reward), share.worker, unix_ms()});
    submitter.push_front([this, block = std::move(block), hash, height] {
      try {
        auto reason = submit_rpc->submit_block(block);
        if (!reason) {
          blocks_accepted->inc();
          feed_block_status(cfg.name, hash, "accepted");
          spdlog::info("pool {}: block {} at height {} accepted by monerod", cfg.name, hash, height);
          std::lock_guard lock(snap_mutex);
          ++snap.blocks_accepted;
          snap.last_block_hash = hash;
        } else {
          blocks_rejected->inc();
          feed_block_status(cfg.name, hash, "rejected");
          spdlog::warn("pool {}: block {} rejected by monerod: {}", cfg.name, hash, *reason);
        }
      } catch (const std::exception& e) {
        blocks_rejected->inc();
        spdlog::error("pool {}: submit_block {} failed: {}", cfg.name, hash, e.what());
      }
      block_notify();
    });
    std::lock_guard lock(snap_mutex);
    ++snap.blocks_found;
  }

  void on_rejected(stratum::Session& session, int code, std::string_view) override {
    feed_rejection(cfg.name, session, code);
    if (code == stratum::error::job_not_found) shares_stale->inc();
    else if (code == stratum::error::duplicate) shares_duplicate->inc();
    else shares_invalid->inc();
    std::lock_guard lock(snap_mutex);
    if (code == stratum::error::job_not_found) ++snap.shares_stale;
    else if (code == stratum::error::duplicate) ++snap.shares_duplicate;
    else ++snap.shares_invalid;
  }

  void on_connect(stratum::Session&) override {
    std::lock_guard lock(snap_mutex);
    ++snap.connections;
  }
  void on_disconnect(stratum::Session&) override {
    std::lock_guard lock(snap_mutex);
    --snap.connections;
  }

  void block_notify() {
    {
      std::lock_guard lock(wake_mutex);
      wake_flag = true;
    }
    wake.notify_all();
  }
};

MoneroPool::MoneroPool(asio::io_context& io, const config::PoolConfig& config, StatusCallback status,
                       std::shared_ptr<Ledger> ledger)
    : impl_(std::make_shared<Impl>(io, config, std::move(status), std::move(ledger))) {}

MoneroPool::~MoneroPool() { stop(); }

void MoneroPool::start() {
  auto& i = *impl_;
  try {
    i.server->listen(i.cfg.address.host, i.cfg.address.port);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + " (set by pool.address)");
  }
  if (i.cfg.tls_address) {
    const auto& a = *i.cfg.tls_address;
    try {
      i.server->listen_tls(a.host, a.port, i.cfg.tls_cert, i.cfg.tls_key);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + " (set by pool.tls_address, pool.tls_cert, pool.tls_key)");
    }
  }
  i.server->start();
  i.status(false, "waiting for monerod at " + i.cfg.daemon.url);
  unsigned n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned k = 0; k < n; ++k) i.workers.emplace_back([&i] { i.worker_loop(); });
  i.template_thread = std::thread([&i] { i.template_loop(); });
  i.submitter.start();
}

void MoneroPool::stop() {
  auto& i = *impl_;
  if (i.stopping.exchange(true)) return;
  i.block_notify();
  i.check_cv.notify_all();
  if (i.template_thread.joinable()) i.template_thread.join();
  i.submitter.stop();
  for (auto& t : i.workers)
    if (t.joinable()) t.join();
  i.server->stop();
}

void MoneroPool::block_notify() { impl_->block_notify(); }
uint16_t MoneroPool::stratum_port() const { return impl_->server->port(); }

PoolSnapshot MoneroPool::snapshot() const {
  std::lock_guard lock(impl_->snap_mutex);
  return impl_->snap;
}

std::unique_ptr<Pool> make_pool(asio::io_context& io, const config::PoolConfig& config, StatusCallback status,
                                std::shared_ptr<Ledger> ledger, std::shared_ptr<p2p::Node> p2p) {
  if (config.coin == "bitcoin" || config.coin == "litecoin")
    return std::make_unique<BitcoinPool>(io, config, std::move(status), std::move(ledger), std::move(p2p));
  if (p2p) throw std::invalid_argument("pool '" + config.name + "': the P2P share chain serves Bitcoin-family coins only");
  if (config.coin == "monero") return std::make_unique<MoneroPool>(io, config, std::move(status), std::move(ledger));
  throw std::invalid_argument("pool '" + config.name + "': no pool serves coin '" + config.coin + "'");
}

}  // namespace otedama::pool
