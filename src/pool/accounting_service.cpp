// pool::Accounting: the store, the ledger the pools feed, and the accounting thread (block
// writes and PPS credits every second, block status every 5 s, payouts every interval).
#include <spdlog/spdlog.h>

#include <cmath>
#include <condition_variable>
#include <set>
#include <thread>

#include "accounting/accounting.h"
#include "chain/chain.h"
#include "chain/monero.h"
#include "pool/block_status.h"
#include "pool/ledger.h"
#include "pool/payout.h"
#include "pool/pool.h"
#include "store/store.h"

namespace otedama::pool {

namespace {

using steady = std::chrono::steady_clock;
constexpr auto kFlushInterval = std::chrono::seconds(1);
constexpr auto kBlockPollInterval = std::chrono::seconds(5);

// The daemon URL with /wallet/NAME, for a named wallet.
std::string wallet_url(const std::string& daemon_url, const std::string& wallet) {
  if (wallet.empty()) return daemon_url;
  std::string base = daemon_url;
  // http://host:port or http://host:port/ -> http://host:port/wallet/NAME
  size_t scheme = base.find("://");
  size_t path = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path != std::string::npos) base.resize(path);
  return base + "/wallet/" + wallet;
}

}  // namespace

struct Accounting::Impl {
  struct CoinJob {
    std::string coin, pool;
    BlockLookup lookup;
    std::unique_ptr<PayoutProcessor> payouts;
    steady::duration payout_interval{};
    steady::time_point next_poll{}, next_payout{};
    std::string last_poll_error;
    Gauge* pending_amount = nullptr;  // payable + reserved, in coins
    Gauge* last_success = nullptr;    // unix seconds of the newest broadcast or confirmed payment
    // PPS/FPPS: the operator's running balance (block rewards - share credits), atomic units.
    bool pps = false;
    Gauge* operator_confirmed = nullptr;
    Gauge* operator_pending = nullptr;
  };

  std::shared_ptr<store::Store> store;
  std::shared_ptr<Ledger> ledger;
  std::vector<CoinJob> jobs;
  std::thread thread;
  std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false, started = false, stopped = false;

  Impl(const config::Config& config, std::shared_ptr<store::Store> s) : store(std::move(s)) {
    ledger = std::make_shared<Ledger>(store, config.pools);
    std::set<std::string> coins;
    for (const auto& p : config.pools) {
      if (!p.enable || p.coin.empty() || !p.daemon.configured() || !coins.insert(p.coin).second) continue;
      CoinJob job;
      job.coin = p.coin;
      job.pool = p.name;
      if (p.coin == "monero") {
        chain::monero::RpcOptions ro;
        ro.url = p.daemon.url;
        ro.user = p.daemon.user;
        ro.password = p.daemon.password;
        ro.timeout = std::chrono::seconds(10);
        job.lookup = monero_block_lookup(std::make_shared<chain::monero::RpcClient>(ro));
        if (p.payouts.enabled && p.payouts.wallet_url.empty()) {
          spdlog::warn("pool {}: no pool.payouts.wallet_url (monero-wallet-rpc): balances accrue, nothing is paid",
                       p.name);
        } else if (p.payouts.enabled) {
          chain::monero::RpcOptions wo;
          wo.url = p.payouts.wallet_url;
          wo.timeout = std::chrono::seconds(60);  // transfer builds ring signatures
          PayoutOptions po;
          po.coin = p.coin;
          po.minimum = std::max<store::Amount>(1, store::Amount(std::llround(p.payouts.minimum * 1e12)));
          job.payouts = std::make_unique<PayoutProcessor>(
              *store, monero_wallet(std::make_shared<chain::monero::RpcClient>(wo)), po);
          job.payout_interval = std::chrono::duration_cast<steady::duration>(p.payouts.interval);
        }
      } else {
        chain::RpcOptions ro;
        ro.url = p.daemon.url;
        ro.user = p.daemon.user;
        ro.password = p.daemon.password;
        ro.cookie_file = p.daemon.cookie_file;
        ro.timeout = std::chrono::seconds(10);
        job.lookup = bitcoin_block_lookup(std::make_shared<chain::RpcClient>(ro));
        if (p.payouts.enabled) {
          ro.url = wallet_url(p.daemon.url, p.payouts.wallet);
          ro.timeout = std::chrono::seconds(30);
          PayoutOptions po;
          po.coin = p.coin;
          po.minimum = std::max<store::Amount>(1, store::Amount(std::llround(p.payouts.minimum * 1e8)));
          job.payouts =
              std::make_unique<PayoutProcessor>(*store, bitcoin_wallet(std::make_shared<chain::RpcClient>(ro)), po);
          job.payout_interval = std::chrono::duration_cast<steady::duration>(p.payouts.interval);
        }
      }
      job.pending_amount = &metrics().gauge("otedama_payouts_pending_amount",
                                            "Balances owed to miners and not yet paid (payable + in a payment), in coins.",
                                            {{"coin", job.coin}});
      job.last_success = &metrics().gauge("otedama_payouts_last_success_timestamp_seconds",
                                          "When the newest payment was broadcast or confirmed (unix seconds).",
                                          {{"coin", job.coin}});
      if (p.reward_system == config::RewardSystem::PPS || p.reward_system == config::RewardSystem::FPPS) {
        job.pps = true;
        const char* help =
            "PPS/FPPS: the pool's running balance in atomic units: state=confirmed is matured block rewards minus "
            "share credits (negative: the operator is down), state=pending the rewards of blocks not yet matured.";
        job.operator_confirmed = &metrics().gauge("otedama_pps_operator_balance_atoms", help,
                                                  {{"coin", job.coin}, {"pool", job.pool}, {"state", "confirmed"}});
        job.operator_pending = &metrics().gauge("otedama_pps_operator_balance_atoms", help,
                                                {{"coin", job.coin}, {"pool", job.pool}, {"state", "pending"}});
      }
      jobs.push_back(std::move(job));
    }
    m_queued = &metrics().gauge("otedama_store_queued_shares", "Shares waiting for the store's writer.");
    m_recorded = &metrics().gauge("otedama_store_recorded_shares", "Shares handed to the store since start.");
    m_durable = &metrics().gauge("otedama_store_durable_shares", "Shares committed to the store since start.");
    m_batches = &metrics().gauge("otedama_store_batches", "Group commits since start.");
    m_failures = &metrics().gauge("otedama_store_write_failures", "Failed batch writes since start (retried).");
  }

  Gauge *m_queued = nullptr, *m_recorded = nullptr, *m_durable = nullptr, *m_batches = nullptr, *m_failures = nullptr;

  // Payout and database figures for /metrics (the alert rules in deploy/monitoring use them).
  void export_metrics(CoinJob& job) {
    double unit = job.coin == "monero" ? 1e12 : 1e8;
    store::Amount owed = 0;
    for (const auto& b : store->balances(job.coin)) owed += b.payable + b.reserved;
    job.pending_amount->set(double(owed) / unit);
    int64_t last = 0;
    for (auto state : {store::PaymentState::broadcast, store::PaymentState::confirmed})
      for (const auto& p : store->payments(job.coin, state)) last = std::max(last, p.updated_ms);
    job.last_success->set(double(last) / 1000.0);
    if (job.pps) {
      auto t = store->reward_totals(job.coin);
      auto ob = accounting::operator_balance(t.blocks_confirmed, t.blocks_pending, t.share_credits);
      job.operator_confirmed->set(double(ob.confirmed));
      job.operator_pending->set(double(ob.pending));
    }
  }
  void export_store_metrics() {
    auto ws = store->writer_stats();
    m_queued->set(double(ws.queued));
    m_recorded->set(double(ws.recorded));
    m_durable->set(double(ws.durable));
    m_batches->set(double(ws.batches));
    m_failures->set(double(ws.failures));
  }

  void run() {
    auto next_flush = steady::now();
    while (true) {
      {
        std::unique_lock lock(mutex);
        cv.wait_until(lock, next_flush, [&] { return stopping; });
        if (stopping) return;
      }
      next_flush = steady::now() + kFlushInterval;
      ledger->flush();
      export_store_metrics();
      for (auto& job : jobs) {
        auto now = steady::now();
        if (now >= job.next_poll) {
          job.next_poll = now + kBlockPollInterval;
          try {
            auto pass = update_block_status(*store, job.coin, job.lookup, unix_ms());
            if (pass.error != job.last_poll_error && !pass.error.empty())
              spdlog::warn("accounting {}: block status waits for the daemon: {}", job.coin, pass.error);
            job.last_poll_error = pass.error;
            export_metrics(job);
          } catch (const std::exception& e) {
            spdlog::error("accounting {}: block status: {}", job.coin, e.what());
          }
        }
        if (job.payouts && now >= job.next_payout) {
          job.next_payout = now + job.payout_interval;
          try {
            job.payouts->run_once();
            export_metrics(job);
          } catch (const std::exception& e) {
            spdlog::error("payouts {}: {}", job.coin, e.what());
          }
        }
        std::lock_guard lock(mutex);
        if (stopping) return;
      }
    }
  }
};

Accounting::Accounting(const config::Config& config)
    : Accounting(config, std::shared_ptr<store::Store>(store::open(store::options_from_config(config)))) {}

Accounting::Accounting(const config::Config& config, std::shared_ptr<store::Store> store)
    : impl_(std::make_unique<Impl>(config, std::move(store))) {}

Accounting::~Accounting() { stop(); }

void Accounting::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->started || impl_->stopping) return;
  impl_->started = true;
  impl_->thread = std::thread([i = impl_.get()] { i->run(); });
}

void Accounting::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  try {
    impl_->ledger->flush();
  } catch (const std::exception& e) {
    spdlog::error("accounting: final write: {}", e.what());
  }
  impl_->store->close();
}

store::Store& Accounting::store() { return *impl_->store; }
std::shared_ptr<Ledger> Accounting::ledger() const { return impl_->ledger; }

}  // namespace otedama::pool
