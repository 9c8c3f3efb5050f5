// Test and benchmark helper: p2p::Node objects on their own io_context threads over real
// loopback TCP, and shares mined from a node's own job plan (Node::plan), the way the pool's
// Stratum job for a local miner would be.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "p2p/net.h"
#include "p2p/p2p.h"
#include "share_miner.h"

namespace otedama::p2p::testing {

// A regtest share chain with the trivial floor (about 2 scrypt hashes a share), so tests and
// benchmarks can mine thousands of shares. Share times spaced share_time apart keep the
// retarget at the floor.
inline ChainParams easy_params(const std::string& name, uint32_t window) {
  ChainParams p = ChainParams::for_network(chain::Coin::litecoin, chain::Network::regtest, name, 1);
  p.max_target_bits = 0x207fffff;
  p.window = window;
  p.max_outputs = std::max<uint32_t>(window + 1, 4000);
  p.min_output = 1000;
  return p;
}

// One node on its own io_context thread. Stops (and joins) on destruction, even when a test
// assertion failed half-way.
class NodeRunner {
 public:
  // `before_start` may register callbacks (on_tip, on_block) before any peer can call them.
  explicit NodeRunner(NodeConfig config, const std::function<void(Node&)>& before_start = nullptr)
      : host_(config.listen_host) {
    node_ = std::make_unique<Node>(io_, std::move(config));
    if (before_start) before_start(*node_);
    node_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~NodeRunner() {
    node_->stop();
    guard_.reset();
    io_.stop();
    thread_.join();
    node_.reset();
  }
  NodeRunner(const NodeRunner&) = delete;
  NodeRunner& operator=(const NodeRunner&) = delete;

  Node& operator*() { return *node_; }
  Node* operator->() { return node_.get(); }
  std::string address() const { return host_ + ":" + std::to_string(node_->port()); }

 private:
  std::string host_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<Node> node_;
  std::thread thread_;
};

// A share for `plan` (a node's next share), mined so that its PoW meets (want_valid) or misses
// the share target. `tweak_payouts` may change the coinbase's payouts before mining (a share
// that pays the wrong outputs). `salt` makes shares of one height from one script differ.
inline Share mine_planned(const JobPlan& plan, int64_t reward, uint32_t salt = 0, bool want_valid = true,
                          const std::function<void(std::vector<chain::TxOut>&)>& tweak_payouts = nullptr,
                          uint32_t coin_bits = 0x207fffff) {
  Share s;
  s.info = plan.info;
  s.coin_height = 200;
  s.reward = reward;
  s.extranonce = Bytes(12, 0);
  for (int i = 0; i < 4; ++i) {
    s.extranonce[i] = uint8_t(plan.info.height >> (8 * i));
    s.extranonce[4 + i] = uint8_t(salt >> (8 * i));
  }
  auto payouts = plan.payouts;
  if (tweak_payouts) tweak_payouts(payouts);
  auto opts = share_coinbase_options(s.info, payouts, plan.network_id, 4, 8);
  auto cb = chain::build_coinbase(s.coin_height, s.reward, s.witness_commitment, opts);
  Bytes tx = cb.assemble(ByteSpan(s.extranonce).first(4), ByteSpan(s.extranonce).subspan(4));
  s.header.version = 0x20000000;
  s.header.merkle_root = crypto::sha256d(tx);
  s.header.time = s.info.time;
  s.header.bits = coin_bits;
  for (uint32_t n = 0;; ++n) {
    s.header.nonce = n;
    Hash256 h = crypto::scrypt_1024_1_1(s.header.serialize());
    bool ok = U256::from_le_bytes(h.data()) <= plan.share_target;
    if (ok == want_valid) break;
  }
  return s;
}

// The next share time for a chain whose first share was at `t0`: one share_time per height,
// so the retarget stays at the floor however fast the test mines.
inline uint32_t next_share_time(const Node& node, uint32_t t0) {
  NodeStatus st = node.status();
  uint64_t next = st.tip.empty() ? 0 : st.height + 1;
  return t0 + uint32_t(next * node.params().share_time);
}

// Mines a valid share on `node`'s tip paying `script`.
inline Share mine_on(const Node& node, const Bytes& script, uint32_t t0, uint32_t salt = 0) {
  JobPlan plan = node.plan(script, 5'000'000'000, next_share_time(node, t0));
  return mine_planned(plan, 5'000'000'000, salt);
}

}  // namespace otedama::p2p::testing
