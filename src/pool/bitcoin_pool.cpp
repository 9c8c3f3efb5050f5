// The Bitcoin-family pool. One template thread talks to the daemon (templates, tip changes,
// back-off while it is down); the node's loop runs the Stratum server and checks shares; a
// found block is handed to a submit thread at once so the loop never waits on the daemon.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <deque>
#include <thread>

#include "chain/chain.h"
#include "crypto/crypto.h"
#include "p2p/p2p.h"
#include "pool/ledger.h"
#include "pool/pool.h"
#include "pool/stats_feed.h"
#include "pool/task_thread.h"
#include "stratum/stratum.h"

namespace otedama::pool {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// What a Stratum job carries for the share check and block building.
struct JobContext {
  chain::Job job;
  std::shared_ptr<const chain::BlockTemplate> tpl;
  uint64_t epoch = 0;  // Impl::epoch when published: jobs from before a daemon loss are stale
  std::shared_ptr<const p2p::JobPlan> plan;  // P2P mode: the share this job builds
};

std::string stratum_prevhash(const Hash256& internal) {
  Hash256 h = internal;
  for (size_t i = 0; i < 32; i += 4) std::swap(h[i], h[i + 3]), std::swap(h[i + 1], h[i + 2]);
  return to_hex(h);
}

double seconds_now() { return std::chrono::duration<double>(steady::now().time_since_epoch()).count(); }

// Whether a failover target accepts a TCP connection within the timeout.
bool accepts_connection(const config::Address& a, std::chrono::milliseconds timeout) {
  asio::io_context ctx;
  asio::ip::tcp::resolver resolver(ctx);
  asio::ip::tcp::socket socket(ctx);
  bool ok = false;
  resolver.async_resolve(a.host, std::to_string(a.port), [&](boost::system::error_code ec, auto results) {
    if (!ec) asio::async_connect(socket, results, [&](boost::system::error_code e, auto&&) { ok = !e; });
  });
  ctx.run_for(timeout);
  return ok;
}

}  // namespace

struct BitcoinPool::Impl : stratum::Handler, std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  config::PoolConfig cfg;
  StatusCallback status;
  std::shared_ptr<Ledger> ledger;  // accounting (null: shares and blocks are not recorded)
  // P2P mode (docs/p2p.md): jobs per payout script on the share chain's tip; found blocks go out
  // through the node's on_block (for shares of every node), not submit_block.
  std::shared_ptr<p2p::Node> p2p;
  std::unordered_map<stratum::SessionId, Bytes> session_script;  // loop only
  std::mutex tpl_mutex;
  std::shared_ptr<const chain::BlockTemplate> last_tpl;  // guarded by tpl_mutex
  chain::Coin coin;
  U256 diff1;
  bool scrypt;
  std::unique_ptr<stratum::Server> server;
  std::unique_ptr<chain::RpcClient> rpc;
  VardiffConfig vardiff_cfg;

  // Set by the template thread once the daemon answered (read on the loop after that).
  std::atomic<const chain::CoinParams*> params{nullptr};
  Bytes payout_script;

  std::thread template_thread;
  TaskThread submitter;  // block submissions
  std::mutex wake_mutex;
  std::condition_variable wake;
  bool wake_flag = false;
  std::atomic<bool> stopping{false};

  // Daemon loss (BitcoinPool::set_failover_source). `epoch` is bumped at each loss.
  std::atomic<bool> daemon_lost{false};
  std::atomic<uint64_t> epoch{0};
  std::mutex failover_mutex;
  FailoverSource failover_source;
  std::optional<config::Address> failover_target;  // chosen at the loss, for late authorizes

  // The loop's view of the current job (for vardiff re-sends).
  stratum::Job current;
  uint64_t job_counter = 0;

  mutable std::mutex snap_mutex;
  PoolSnapshot snap;

  Counter *shares_valid, *shares_stale, *shares_duplicate, *shares_low, *shares_invalid;
  Counter *blocks_found, *blocks_accepted, *blocks_rejected;
  Histogram* check_seconds;

  Impl(asio::io_context& io_, const config::PoolConfig& c, StatusCallback s, std::shared_ptr<Ledger> l,
       std::shared_ptr<p2p::Node> node)
      : io(io_), cfg(c), status(std::move(s)), ledger(std::move(l)), p2p(std::move(node)) {
    if (p2p) {
      ledger.reset();  // the coinbase pays the miners: nothing to account
    }
    if (cfg.coin != "bitcoin" && cfg.coin != "litecoin")
      throw std::invalid_argument("pool '" + cfg.name + "': coin '" + cfg.coin + "' is not a Bitcoin-family coin");
    if (!cfg.daemon.configured()) throw std::invalid_argument("pool '" + cfg.name + "': no coin daemon configured");
    coin = chain::coin_from_string(cfg.coin);
    if (!cfg.daemon.zmq.empty())
      spdlog::warn("pool {}: daemon.zmq is not used by Bitcoin-family pools yet (Debian's litecoind has no ZMQ); "
                   "new blocks come from -blocknotify (otedama blocknotify) and tip polling",
                   cfg.name);
    scrypt = cfg.algorithm == "scrypt";
    diff1 = U256::from_compact(0x1d00ffff);
    if (scrypt) diff1 = diff1 << 16;

    chain::RpcOptions ro;
    ro.url = cfg.daemon.url;
    ro.user = cfg.daemon.user;
    ro.password = cfg.daemon.password;
    ro.cookie_file = cfg.daemon.cookie_file;
    ro.timeout = std::chrono::seconds(10);
    rpc = std::make_unique<chain::RpcClient>(ro);

    vardiff_cfg.target_share_time = std::chrono::duration<double>(cfg.difficulty.target_share_time).count();
    vardiff_cfg.min_difficulty = cfg.difficulty.min;
    vardiff_cfg.max_difficulty = cfg.difficulty.max;

    stratum::ServerConfig sc;
    sc.name = cfg.name;
    sc.max_connections = cfg.max_connections;
    sc.initial_difficulty = cfg.difficulty.initial;
    sc.min_difficulty = cfg.difficulty.min;
    sc.max_difficulty = cfg.difficulty.max;
    sc.diff1_target = diff1;
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
    check_seconds = &m.histogram("otedama_share_check_seconds", "Time to check one share (header rebuild and PoW).",
                                 {1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1}, base);
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
    Hash256 last_prev{};
    bool have_job = false;
    auto last_publish = steady::now();
    auto last_ok = steady::now();  // the daemon's last good answer
    int failures = 0;              // failed daemon calls in a row
    while (!stopping) {
      try {
        if (!params.load()) {
          chain::ChainInfo info = rpc->get_blockchain_info();
          const chain::CoinParams& p = chain::coin_params(coin, chain::network_from_chain(info.chain));
          try {
            payout_script = chain::address_to_script(cfg.payout_address, p);
          } catch (const std::invalid_argument& e) {
            status(false, "pool.payout_address is not a valid " + std::string(chain::to_string(coin)) + " " +
                              std::string(chain::to_string(p.network)) + " address: " + e.what());
            spdlog::error("pool {}: payout_address '{}': {}", cfg.name, cfg.payout_address, e.what());
            wait_for(std::chrono::seconds(30));
            continue;
          }
          params = &p;
          spdlog::info("pool {}: daemon {} on {} {}, paying {}", cfg.name, cfg.daemon.url, cfg.coin, info.chain,
                       cfg.payout_address);
        }
        auto tpl = std::make_shared<chain::BlockTemplate>(rpc->get_block_template(params.load()->gbt_rules));
        failures = 0;
        last_ok = steady::now();
        if (daemon_lost.exchange(false)) spdlog::info("pool {}: the coin daemon is back; handing out work again", cfg.name);
        bool new_tip = !have_job || tpl->prev_hash != last_prev;
        if (new_tip || steady::now() - last_publish >= std::chrono::seconds(30)) {
          publish(tpl, new_tip);
          last_prev = tpl->prev_hash;
          have_job = true;
          last_publish = steady::now();
          status(true, "serving height " + std::to_string(tpl->height) + " on " + cfg.address.to_string());
        }
        backoff = std::chrono::milliseconds(500);
        // Tip changes: blocknotify wakes us; otherwise poll the best block hash (cheap) so that
        // miners get new work well within a second of a new block.
        while (!stopping && steady::now() - last_publish < std::chrono::seconds(30)) {
          wait_for(std::chrono::milliseconds(200));
          if (stopping) break;
          if (rpc->get_best_block_hash() != last_prev) break;
          last_ok = steady::now();
          {
            std::lock_guard lock(wake_mutex);
            if (wake_flag) break;
          }
        }
        continue;  // no error: straight to the next template
      } catch (const chain::AuthError& e) {
        status(false, std::string("coin daemon refused our credentials: ") + e.what());
        spdlog::error("pool {}: {}", cfg.name, e.what());
      } catch (const chain::RpcError& e) {
        status(false, "coin daemon: " + e.message + " (" + e.method + ", code " + std::to_string(e.code) + ")");
        spdlog::warn("pool {}: {} failed: {} ({})", cfg.name, e.method, e.message, e.code);
      } catch (const chain::ChainError& e) {
        status(false, std::string("coin daemon unreachable: ") + e.what());
        spdlog::warn("pool {}: daemon: {}", cfg.name, e.what());
      } catch (const std::exception& e) {
        status(false, std::string("bad answer from the coin daemon: ") + e.what());
        spdlog::warn("pool {}: {}", cfg.name, e.what());
      }
      if (stopping) break;
      if (have_job && (++failures >= 2 || steady::now() - last_ok > std::chrono::seconds(3))) {
        lose_daemon();
        have_job = false;  // the next template goes out clean
      } else if (daemon_lost && !has_failover_target()) {
        retry_failover();  // a target may have appeared since (a federated pool's health, a peer)
      }
      wait_for(backoff);  // the daemon is down or unhappy: retry with back-off
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    }
  }

  bool has_failover_target() {
    std::lock_guard lock(failover_mutex);
    return failover_target.has_value();
  }

  // Still without a daemon and without a target: look again, and send the miners that came
  // back meanwhile (they were refused) and any still connected to it.
  void retry_failover() {
    auto target = pick_failover_target();
    if (!target) return;
    {
      std::lock_guard lock(failover_mutex);
      failover_target = target;
    }
    spdlog::warn("pool {}: still no coin daemon; miners sent to {}", cfg.name, target->to_string());
    asio::post(io, [self = shared_from_this(), target] {
      self->server->for_each_session([&](stratum::Session& s) {
        s.reconnect(target->host, target->port, 0);
        s.disconnect();
      });
    });
  }

  std::optional<config::Address> pick_failover_target() {
    std::vector<config::Address> candidates = cfg.failover;
    FailoverSource source;
    {
      std::lock_guard lock(failover_mutex);
      source = failover_source;
    }
    if (source)
      if (auto a = source()) candidates.push_back(*a);
    for (const auto& a : candidates)
      if (!stopping && accepts_connection(a, std::chrono::seconds(1))) return a;
    return std::nullopt;
  }

  // The daemon is gone: no more work from this pool. Its miners are sent to the first failover
  // target that accepts a connection (probed here, off the loop), or just closed.
  void lose_daemon() {
    epoch.fetch_add(1);
    daemon_lost = true;
    auto target = pick_failover_target();
    {
      std::lock_guard lock(failover_mutex);
      failover_target = target;
    }
    spdlog::warn("pool {}: lost the coin daemon; no more work, miners {}", cfg.name,
                 target ? "sent to " + target->to_string() : std::string("disconnected (no live failover target)"));
    asio::post(io, [self = shared_from_this(), target] {
      self->current = {};
      self->server->for_each_session([&](stratum::Session& s) {
        if (target) s.reconnect(target->host, target->port, 0);
        s.disconnect();
      });
    });
  }


  void publish(std::shared_ptr<const chain::BlockTemplate> tpl, bool clean) {
    if (p2p) {
      {
        std::lock_guard lock(tpl_mutex);
        last_tpl = tpl;
      }
      std::lock_guard lock(snap_mutex);
      snap.height = tpl->height;
      snap.network_difficulty = difficulty_from_target(tpl->target, diff1);
      asio::post(io, [self = shared_from_this(), clean] { self->publish_p2p(clean, 0); });
      return;
    }
    chain::CoinbaseOptions opts;
    opts.outputs = {{tpl->coinbase_value, payout_script}};
    opts.tag = chain::to_bytes("/otedama/");
    opts.extranonce1_size = 4;
    opts.extranonce2_size = 8;
    auto ctx = std::make_shared<JobContext>();
    ctx->job = chain::make_job(*tpl, opts);
    ctx->tpl = tpl;
    ctx->epoch = epoch.load();
    stratum::Job job;
    job.prevhash_hex = stratum_prevhash(ctx->job.prev_hash);
    job.coinb1_hex = to_hex(ctx->job.coinbase.coinb1);
    job.coinb2_hex = to_hex(ctx->job.coinbase.coinb2);
    for (const auto& b : ctx->job.merkle_branch) job.merkle_branch_hex.push_back(to_hex(b));
    job.version = uint32_t(ctx->job.version);
    job.nbits = ctx->job.bits;
    job.ntime = ctx->job.ntime;
    job.clean = clean;
    job.context = ctx;
    double netdiff = difficulty_from_target(ctx->job.target, diff1);
    {
      std::lock_guard lock(snap_mutex);
      snap.height = tpl->height;
      snap.network_difficulty = netdiff;
    }
    if (ledger) {  // accounting: PPS share value and the PPLNS window's size
      int64_t fees = 0;
      for (const auto& t : tpl->transactions) fees += t.fee;
      ledger->set_network(cfg.coin, netdiff, tpl->coinbase_value - fees, fees);
    }
    asio::post(io, [self = shared_from_this(), job = std::move(job)]() mutable {
      job.id = self->next_job_id();
      self->current = job;
      // Miners that went quiet get a lower difficulty with this job (vardiff's time rule).
      double now = seconds_now();
      self->server->for_each_session([now](stratum::Session& s) {
        auto vd = std::static_pointer_cast<Vardiff>(s.user_data());
        if (!vd || s.difficulty_fixed()) return;
        if (auto d = vd->on_tick(now)) s.set_difficulty(*d);
      });
      self->server->notify_all(std::move(job));
    });
  }

  stratum::Job to_stratum(std::shared_ptr<JobContext> ctx, bool clean) {
    stratum::Job job;
    job.prevhash_hex = stratum_prevhash(ctx->job.prev_hash);
    job.coinb1_hex = to_hex(ctx->job.coinbase.coinb1);
    job.coinb2_hex = to_hex(ctx->job.coinbase.coinb2);
    for (const auto& b : ctx->job.merkle_branch) job.merkle_branch_hex.push_back(to_hex(b));
    job.version = uint32_t(ctx->job.version);
    job.nbits = ctx->job.bits;
    job.ntime = ctx->job.ntime;
    job.clean = clean;
    job.context = std::move(ctx);
    return job;
  }

  // P2P mode, on the loop: a job per authorized session (per payout script) on the share
  // chain's tip; `only` = one session (just authorized), 0 = all.
  void publish_p2p(bool clean, stratum::SessionId only) {
    std::shared_ptr<const chain::BlockTemplate> tpl;
    {
      std::lock_guard lock(tpl_mutex);
      tpl = last_tpl;
    }
    if (!tpl || daemon_lost) return;
    uint32_t now = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    std::map<Bytes, std::shared_ptr<JobContext>> by_script;
    auto send = [&](stratum::Session& s) {
      if (!s.authorized()) return;
      auto it = session_script.find(s.id());
      if (it == session_script.end()) return;
      auto& ctx = by_script[it->second];
      if (!ctx) {
        auto plan = std::make_shared<p2p::JobPlan>(p2p->plan(it->second, tpl->coinbase_value, now));
        ctx = std::make_shared<JobContext>();
        ctx->job = chain::make_job(*tpl, p2p::share_coinbase_options(plan->info, plan->payouts, plan->network_id, 4, 8));
        ctx->tpl = tpl;
        ctx->epoch = epoch.load();
        ctx->plan = plan;
      }
      // A miner's Stratum difficulty never exceeds the share's: it would skip shares.
      double share_diff = difficulty_from_target(ctx->plan->share_target, diff1);
      if (s.difficulty() > share_diff) s.set_difficulty(share_diff);
      stratum::Job job = to_stratum(ctx, clean);
      job.id = next_job_id();
      server->notify(s.id(), std::move(job));
    };
    if (only) {
      if (auto* s = server->find(only)) send(*s);
    } else {
      server->for_each_session(send);
    }
  }

  // P2P mode: a share meeting the share target becomes a share of the chain.
  void submit_p2p(const JobContext& ctx, const chain::Header80& header, const stratum::ShareSubmission& share,
                  const U256& value, const std::string& worker) {
    p2p::Share s;
    s.info = ctx.plan->info;
    s.header = chain::BlockHeader::parse(header);
    s.coin_height = ctx.job.height;
    s.reward = ctx.tpl->coinbase_value;
    s.extranonce.assign(share.extranonce1.begin(), share.extranonce1.end());
    s.extranonce.insert(s.extranonce.end(), share.extranonce2.begin(), share.extranonce2.end());
    s.witness_commitment = ctx.tpl->witness_commitment;
    s.merkle_branch = ctx.job.merkle_branch;
    bool block = p2p->block_pow(value, s.info, s.header);
    if (block) {
      for (const auto& t : ctx.tpl->transactions) {
        s.txids.push_back(t.txid);
        s.transactions.push_back(t.data);
      }
      s.mweb = ctx.tpl->mweb;
    }
    auto r = p2p->submit(std::move(s), value);  // the share check hashed it already
    if (r.status == p2p::AddStatus::invalid)
      spdlog::warn("pool {}: share from {} refused by the share chain: {}", cfg.name, worker, r.reason);
    else if (r.status == p2p::AddStatus::accepted)
      spdlog::debug("pool {}: share {} from {} on the share chain", cfg.name, r.entry->share.info.height, worker);
  }

  // P2P mode: any block share the node accepted (ours or a peer's) goes to our daemon.
  void submit_p2p_block(Bytes block, std::string hash, uint32_t height) {
    blocks_found->inc();
    {
      std::lock_guard lock(snap_mutex);
      ++snap.blocks_found;
    }
    feed_block(cfg.name, cfg.coin, height, hash, "p2p", 0);
    // Another node's block may be in our daemon already: "duplicate" is a success here.
    submit_to_daemon(std::move(block), std::move(hash), height, true, "share-chain block");
  }

  // submitblock on the submit thread (the loop never waits on the daemon), then a new template.
  void submit_to_daemon(Bytes block, std::string hash, uint32_t height, bool duplicate_ok, const char* what) {
    submitter.push_front([this, block = std::move(block), hash = std::move(hash), height, duplicate_ok, what] {
      try {
        auto reason = rpc->submit_block(block);
        if (!reason || (duplicate_ok && *reason == "duplicate")) {
          blocks_accepted->inc();
          feed_block_status(cfg.name, hash, "accepted");
          spdlog::info("pool {}: {} {} at height {} accepted by the daemon", cfg.name, what, hash, height);
          std::lock_guard lock(snap_mutex);
          ++snap.blocks_accepted;
          snap.last_block_hash = hash;
        } else {
          blocks_rejected->inc();
          feed_block_status(cfg.name, hash, "rejected");
          spdlog::warn("pool {}: {} {} rejected by the daemon: {}", cfg.name, what, hash, *reason);
        }
      } catch (const std::exception& e) {
        blocks_rejected->inc();
        spdlog::error("pool {}: submitblock {} failed: {}", cfg.name, hash, e.what());
      }
      block_notify();
    });
  }

  std::string next_job_id() {
    char b[17];
    snprintf(b, sizeof b, "%llx", (unsigned long long)++job_counter);
    return b;
  }

  // ---- Stratum handler (on the loop) --------------------------------------------------------

  stratum::AuthResult authorize(stratum::Session& session, const stratum::WorkerName& worker,
                                std::string_view) override {
    const chain::CoinParams* p = params.load();
    if (!p) return {false, "the pool is not ready (no contact with its coin daemon yet)"};
    if (daemon_lost) {
      std::lock_guard lock(failover_mutex);
      if (failover_target) session.reconnect(failover_target->host, failover_target->port, 0);
      return {false, "the pool has no work: it lost contact with its coin daemon"};
    }
    if (auto why = chain::address_error(worker.address, *p))
      return {false, "'" + worker.address + "' is not a valid " + std::string(chain::to_string(coin)) + " address: " + *why};
    if (!session.user_data())
      session.user_data() = std::make_shared<Vardiff>(vardiff_cfg, session.difficulty(), seconds_now());
    if (p2p && !session_script.count(session.id())) {  // its jobs pay this address on the chain
      session_script[session.id()] = chain::address_to_script(worker.address, *p);
      asio::post(io, [self = shared_from_this(), id = session.id()] { self->publish_p2p(true, id); });
    }
    return {true, ""};
  }

  stratum::ShareResult check_share(stratum::Session& session, const stratum::ShareSubmission& share) override {
    auto t0 = steady::now();
    const auto* ctx = static_cast<const JobContext*>(share.job.context.get());
    if (!ctx) return stratum::ShareResult::rejected(stratum::error::job_not_found, "job has no template");
    if (ctx->epoch != epoch.load()) {  // handed out before the daemon was lost
      shares_stale->inc();
      std::lock_guard lock(snap_mutex);
      ++snap.shares_stale;
      return stratum::ShareResult::rejected(stratum::error::job_not_found, "stale job (the pool lost its coin daemon)");
    }
    chain::Header80 header = chain::job_header(ctx->job, share.extranonce1, share.extranonce2, share.ntime, share.nonce,
                                               int32_t(share.version));
    Hash256 pow = scrypt ? crypto::scrypt_1024_1_1(header) : crypto::sha256d(header);
    U256 value = U256::from_le_bytes(pow.data());
    double measured = difficulty_from_target(value, diff1);
    check_seconds->observe(std::chrono::duration<double>(steady::now() - t0).count());
    if (value > share.target) {
      shares_low->inc();
      feed_share(cfg.name, share.worker, share.difficulty, stats::ShareResult::low_difficulty);
      return stratum::ShareResult::rejected(stratum::error::low_difficulty, "low difficulty share", measured);
    }
    bool block = value <= ctx->job.target;
    if (ctx->plan) {  // P2P mode
      if (value <= ctx->plan->share_target) submit_p2p(*ctx, header, share, value, std::string(share.worker));
      block = false;  // submitted through the node's on_block
    }
    uint64_t seq = ledger ? ledger->share(cfg.coin, share.worker, share.difficulty, ctx->job.height, block) : 0;
    if (block) submit_block(share.job.context, header, share);
    shares_valid->inc();
    feed_share(cfg.name, share.worker, share.difficulty, stats::ShareResult::valid);
    {
      std::lock_guard lock(snap_mutex);
      ++snap.shares_valid;
    }
    if (auto vd = std::static_pointer_cast<Vardiff>(session.user_data()); vd && !session.difficulty_fixed()) {
      if (auto d = vd->on_share(seconds_now(), share.difficulty)) {
        session.set_difficulty(*d);
        resend_current(session);
      }
    }
    auto result = stratum::ShareResult::accepted(measured, block);
    if (seq)  // the miner hears "true" only once the share is on disk (docs/operations.md)
      result.defer_ack = [ledger = ledger, seq](std::function<void()> reply) { ledger->on_durable(seq, std::move(reply)); };
    return result;
  }

  // Fresh work right after a vardiff change, so the new difficulty applies at once.
  void resend_current(stratum::Session& session) {
    if (current.id.empty()) return;
    stratum::Job job = current;
    job.id = next_job_id();
    job.clean = false;
    server->notify(session.id(), std::move(job));
  }

  void submit_block(std::shared_ptr<const void> context, const chain::Header80& header,
                    const stratum::ShareSubmission& share) {
    blocks_found->inc();
    auto ctx = std::static_pointer_cast<const JobContext>(context);
    Bytes coinbase = ctx->job.coinbase.assemble(share.extranonce1, share.extranonce2);
    Bytes block = chain::serialize_block(*ctx->tpl, header, coinbase);
    std::string hash = chain::display_hex(chain::block_hash(header));
    std::string worker(share.worker);
    feed_block(cfg.name, cfg.coin, ctx->job.height, hash, worker, difficulty_from_target(ctx->job.target, diff1));
    spdlog::info("pool {}: share from {} meets the network target: block {} at height {}", cfg.name, worker, hash,
                 ctx->job.height);
    if (ledger) ledger->block({cfg.coin, int64_t(ctx->job.height), hash, ctx->tpl->coinbase_value, worker, unix_ms()});
    submit_to_daemon(std::move(block), hash, ctx->job.height, false, "block");
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

  // Connection counts go to the server's own otedama_stratum_connections metric.
  void on_connect(stratum::Session&) override {
    std::lock_guard lock(snap_mutex);
    ++snap.connections;
  }
  void on_disconnect(stratum::Session& session) override {
    session_script.erase(session.id());
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

BitcoinPool::BitcoinPool(asio::io_context& io, const config::PoolConfig& config, StatusCallback status,
                         std::shared_ptr<Ledger> ledger, std::shared_ptr<p2p::Node> p2p)
    : impl_(std::make_shared<Impl>(io, config, std::move(status), std::move(ledger), std::move(p2p))) {}

BitcoinPool::~BitcoinPool() { stop(); }

void BitcoinPool::start() {
  auto& i = *impl_;
  // The messages name the config keys: node.cpp reports them as they are (exit code 2).
  try {
    i.server->listen(i.cfg.address.host, i.cfg.address.port);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + " (set by pool.address)");
  }
  if (i.cfg.tls_address) {  // stratum+ssl on its own port, into the same Stratum server
    const auto& a = *i.cfg.tls_address;
    try {
      i.server->listen_tls(a.host, a.port, i.cfg.tls_cert, i.cfg.tls_key);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + " (set by pool.tls_address, pool.tls_cert, pool.tls_key)");
    }
    spdlog::info("pool {}: stratum+ssl listening on {}", i.cfg.name, a.to_string());
  }
  if (i.p2p) {
    std::weak_ptr<Impl> weak = impl_;
    i.p2p->on_tip([weak] {
      if (auto self = weak.lock()) asio::post(self->io, [self] { self->publish_p2p(true, 0); });
    });
    i.p2p->on_block([weak](Bytes block, std::string hash, uint32_t height) {
      if (auto self = weak.lock()) self->submit_p2p_block(std::move(block), std::move(hash), height);
    });
  }
  i.server->start();
  i.status(false, "waiting for the coin daemon at " + i.cfg.daemon.url);
  i.template_thread = std::thread([&i] { i.template_loop(); });
  i.submitter.start();
}

void BitcoinPool::stop() {
  auto& i = *impl_;
  if (i.stopping.exchange(true)) return;
  i.block_notify();
  if (i.template_thread.joinable()) i.template_thread.join();
  i.submitter.stop();
  i.server->stop();
}

void BitcoinPool::block_notify() { impl_->block_notify(); }

void BitcoinPool::set_failover_source(FailoverSource source) {
  std::lock_guard lock(impl_->failover_mutex);
  impl_->failover_source = std::move(source);
}
uint16_t BitcoinPool::stratum_port() const { return impl_->server->port(); }

PoolSnapshot BitcoinPool::snapshot() const {
  std::lock_guard lock(impl_->snap_mutex);
  return impl_->snap;
}

}  // namespace otedama::pool
