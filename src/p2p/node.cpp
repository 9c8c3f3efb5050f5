// The P2P node: the share chain on disk and in memory, its peers, sync by locator, relay.
// Share-chain messages ride on the transport (net.h) as application types:
//   kShares    {count varint, count x share bytes (varint length + serialize_share)}
//   kGetShares {count varint (<= 64), count x hash (locator, newest first), max u32}
//   kTip       {height u64, hash 32, chain_work 16 (LE)}
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "p2p/net.h"
#include "p2p/p2p.h"

namespace otedama::p2p {

namespace {

constexpr uint8_t kShares = kFirstAppType + 0;
constexpr uint8_t kGetShares = kFirstAppType + 1;
constexpr uint8_t kTip = kFirstAppType + 2;
constexpr size_t kMaxLocator = 64;
constexpr size_t kMaxSharesMessage = 12 << 20;
constexpr size_t kSyncAnswerBytes = 4 << 20;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Hash256 load_or_make_node_id(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string hex;
  if (in >> hex) {
    try {
      return hash_from_hex(hex);
    } catch (const std::invalid_argument&) {
      spdlog::warn("p2p: {} does not hold a node id; making a new one", path.string());
    }
  }
  Hash256 id;
  std::random_device rd;
  for (auto& b : id) b = uint8_t(rd());
  std::ofstream(path) << to_hex(id) << "\n";
  return id;
}

Bytes shares_message(const std::vector<const Share*>& shares) {
  Bytes out;
  chain::append_varint(out, shares.size());
  for (const Share* s : shares) {
    Bytes b = serialize_share(*s);
    chain::append_varint(out, b.size());
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

struct MsgReader {
  ByteSpan b;
  size_t pos = 0;
  void need(size_t n) {
    if (b.size() - pos < n) throw std::invalid_argument("truncated message");
  }
  uint64_t varint() {
    need(1);
    uint8_t f = b[pos++];
    auto le = [&](int n) {
      need(n);
      uint64_t v = 0;
      for (int i = 0; i < n; ++i) v |= uint64_t(b[pos + i]) << (8 * i);
      pos += n;
      return v;
    };
    return f < 0xfd ? f : f == 0xfd ? le(2) : f == 0xfe ? le(4) : le(8);
  }
  uint64_t le(int n) {
    need(n);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(b[pos + i]) << (8 * i);
    pos += n;
    return v;
  }
  Hash256 hash() {
    need(32);
    Hash256 h;
    std::memcpy(h.data(), b.data() + pos, 32);
    pos += 32;
    return h;
  }
  ByteSpan span(size_t n) {
    need(n);
    ByteSpan s = b.subspan(pos, n);
    pos += n;
    return s;
  }
  void finish() {
    if (pos != b.size()) throw std::invalid_argument("trailing bytes");
  }
};

double as_double(Work w) { return double(uint64_t(w >> 64)) * 18446744073709551616.0 + double(uint64_t(w)); }

}  // namespace

struct Node::Impl : Network::Handler, std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  // The peers run on the node's own thread: verifying a sync batch (PoW, payouts) never stalls
  // the loop that serves Stratum.
  asio::io_context net_io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> net_work;
  std::thread net_thread;
  NodeConfig cfg;
  mutable std::mutex mu;
  ShareChain chain;
  std::unique_ptr<ShareFile> file;
  std::unique_ptr<Network> net;
  std::function<void()> tip_cb;
  std::function<void(Bytes, std::string, uint32_t)> block_cb;
  std::vector<BlockFound> found;
  std::map<PeerId, uint32_t> sync_asked;  // peer -> batch size asked (a full answer asks again)
  uint64_t blocks_total = 0;
  std::atomic<bool> running{false};

  Counter *accepted_c, *invalid_c, *orphan_c, *duplicate_c, *blocks_c;
  Gauge *peers_g, *height_g, *difficulty_g;

  Impl(asio::io_context& io_, NodeConfig c) : io(io_), cfg(std::move(c)), chain(cfg.params) {
    auto& m = metrics();
    Labels base = {{"network", cfg.params.name}};
    auto with = [&](const char* v) {
      Labels l = base;
      l.emplace_back("result", v);
      return l;
    };
    const char* help = "Shares the share chain received, by result.";
    accepted_c = &m.counter("otedama_p2p_shares_total", help, with("accepted"));
    invalid_c = &m.counter("otedama_p2p_shares_total", help, with("invalid"));
    orphan_c = &m.counter("otedama_p2p_shares_total", help, with("orphan"));
    duplicate_c = &m.counter("otedama_p2p_shares_total", help, with("duplicate"));
    blocks_c = &m.counter("otedama_p2p_blocks_found_total", "Share-chain shares that were also blocks.", base);
    peers_g = &m.gauge("otedama_p2p_peers", "Connected P2P peers.", base);
    height_g = &m.gauge("otedama_p2p_share_height", "Height of the share chain's tip.", base);
    difficulty_g = &m.gauge("otedama_p2p_share_difficulty", "Work (expected hashes) of the next share.", base);
  }

  // ---- after a change: what to do outside the lock ----------------------------------------------
  struct Effects {
    bool new_tip = false;
    std::vector<std::tuple<Bytes, std::string, uint32_t>> blocks;
    std::vector<const Share*> relay;
    std::vector<Bytes> relay_bytes;
  };

  void run(Effects& fx, PeerId from) {
    if (!fx.relay.empty() && net) net->broadcast(kShares, shares_message(fx.relay), from);
    if (fx.new_tip && tip_cb) tip_cb();
    for (auto& [block, hash, height] : fx.blocks)
      if (block_cb) block_cb(std::move(block), hash, height);
  }

  // Under mu: an accepted entry's bookkeeping (file, block, gauges).
  void accepted(const ShareEntry* e, Effects& fx, bool persist, bool sync = true) {
    accepted_c->inc();
    if (persist && file) {
      try {
        file->append(e->share, e->block, sync);
      } catch (const std::exception& ex) {
        spdlog::error("p2p: {}", ex.what());
      }
    }
    if (e->block) {
      blocks_c->inc();
      const BlockFound& b = remember_block(*e);
      if (persist) fx.blocks.emplace_back(block_bytes(*e), b.hash, e->share.coin_height);
    }
  }

  // Under mu: a block share for /api/p2p (the latest 1000).
  const BlockFound& remember_block(const ShareEntry& e) {
    ++blocks_total;
    found.push_back({e.share.info.height, e.share.coin_height, chain::display_hex(e.hash),
                     to_hex(e.share.info.payout_script), e.share.reward, int64_t(e.share.info.time)});
    if (found.size() > 1000) found.erase(found.begin());
    return found.back();
  }

  Bytes block_bytes(const ShareEntry& e) const {
    auto payouts = chain.expected_payouts(e.parent, e.share.info, e.share.reward);
    Bytes coinbase = share_coinbase(e.share, payouts, chain.network_id());
    chain::BlockTemplate tpl;
    for (size_t i = 0; i < e.share.transactions.size(); ++i) {
      chain::TemplateTx t;
      t.data = e.share.transactions[i];
      t.txid = e.share.txids[i];
      tpl.transactions.push_back(std::move(t));
    }
    tpl.mweb = e.share.mweb;
    return chain::serialize_block(tpl, e.share.header.serialize(), coinbase);
  }

  void update_gauges() {
    if (auto* t = chain.tip()) {
      height_g->set(double(t->share.info.height));
      difficulty_g->set(as_double(work_from_target(U256::from_compact(chain.next_bits(t)))));
    }
  }

  // Adds one share; returns its result. Under mu.
  AddResult add_locked(Share s, Effects& fx, bool relay, std::optional<U256> pow = std::nullopt, bool sync = true) {
    AddResult r = chain.add(std::move(s), unix_now(), std::nullopt, pow);
    switch (r.status) {
      case AddStatus::accepted:
        accepted(r.entry, fx, true, sync);
        if (relay) fx.relay.push_back(&r.entry->share);
        for (const ShareEntry* a : chain.take_adopted()) {
          accepted(a, fx, true, sync);
          if (relay) fx.relay.push_back(&a->share);
        }
        break;
      case AddStatus::duplicate: duplicate_c->inc(); break;
      case AddStatus::orphan: orphan_c->inc(); break;
      case AddStatus::invalid: invalid_c->inc(); break;
    }
    fx.new_tip |= r.new_tip;
    if (r.new_tip) update_gauges();
    return r;
  }

  // ---- messages ------------------------------------------------------------------------------------

  Bytes tip_message() const {
    Bytes out;
    const ShareEntry* t = chain.tip();
    chain::append_le64(out, t ? t->share.info.height : 0);
    Hash256 h = t ? t->hash : Hash256{};
    out.insert(out.end(), h.begin(), h.end());
    Work w = t ? t->chain_work : 0;
    chain::append_le64(out, uint64_t(w));
    chain::append_le64(out, uint64_t(w >> 64));
    return out;
  }

  Bytes get_shares_message(uint32_t max) const {
    Bytes out;
    auto loc = chain.locator();
    if (loc.size() > kMaxLocator) loc.resize(kMaxLocator);  // locator() stays well under this
    chain::append_varint(out, loc.size());
    for (auto& h : loc) out.insert(out.end(), h.begin(), h.end());
    chain::append_le32(out, max);
    return out;
  }

  void ask_sync(PeerId peer) {
    Bytes msg;
    {
      std::lock_guard lock(mu);
      msg = get_shares_message(uint32_t(cfg.sync_batch));
      sync_asked[peer] = uint32_t(cfg.sync_batch);
    }
    net->send(peer, kGetShares, std::move(msg));
  }

  void on_connected(const PeerInfo& p) override {
    spdlog::info("p2p: peer {} connected ({}, {})", p.address, p.inbound ? "inbound" : "outbound", p.user_agent);
    Bytes tip;
    {
      std::lock_guard lock(mu);
      tip = tip_message();
    }
    net->send(p.id, kTip, std::move(tip));
    peers_g->set(double(net->peers().size()));
  }

  void on_disconnected(PeerId peer, const std::string& why) override {
    spdlog::info("p2p: peer {} gone: {}", peer, why);
    {
      std::lock_guard lock(mu);
      sync_asked.erase(peer);
    }
    peers_g->set(double(net->peers().size()));
  }

  void on_message(PeerId peer, uint8_t type, ByteSpan payload) override {
    try {
      if (type == kTip) return on_tip_msg(peer, payload);
      if (type == kGetShares) return on_get_shares(peer, payload);
      if (type == kShares) return on_shares(peer, payload);
      net->misbehaving(peer, 100, "unknown message type " + std::to_string(type));
    } catch (const std::invalid_argument& e) {
      net->misbehaving(peer, 100, std::string("malformed message: ") + e.what());
    }
  }

  void on_tip_msg(PeerId peer, ByteSpan payload) {
    MsgReader r{payload};
    r.le(8);
    Hash256 hash = r.hash();
    Work w = Work(r.le(8));
    w |= Work(r.le(8)) << 64;
    r.finish();
    bool behind;
    {
      std::lock_guard lock(mu);
      const ShareEntry* t = chain.tip();
      behind = (!t && w > 0) || (t && w > t->chain_work && !chain.find(hash));
    }
    if (behind) ask_sync(peer);
  }

  void on_get_shares(PeerId peer, ByteSpan payload) {
    MsgReader r{payload};
    uint64_t n = r.varint();
    if (n > kMaxLocator) throw std::invalid_argument("locator too long");
    std::vector<Hash256> loc;
    for (uint64_t i = 0; i < n; ++i) loc.push_back(r.hash());
    uint32_t max = uint32_t(r.le(4));
    r.finish();
    max = std::min<uint32_t>(max, uint32_t(cfg.sync_batch));
    Bytes msg;
    {
      std::lock_guard lock(mu);
      auto list = chain.after_locator(loc, max);
      std::vector<const Share*> out;
      size_t bytes = 0;
      for (auto* e : list) {
        bytes += 200 + e->share.transactions.size() * 300;
        if (!out.empty() && bytes > kSyncAnswerBytes) break;
        out.push_back(&e->share);
      }
      msg = shares_message(out);
    }
    net->send(peer, kShares, std::move(msg));
  }

  void on_shares(PeerId peer, ByteSpan payload) {
    MsgReader r{payload};
    uint64_t n = r.varint();
    if (n > 100000) throw std::invalid_argument("too many shares");
    std::vector<Share> shares;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t len = r.varint();
      shares.push_back(parse_share(r.span(len)));
    }
    r.finish();
    // The PoW of the whole batch first, on every core, outside the lock: it is most of the cost
    // of a sync (the chain checks each value against its share target as usual).
    std::vector<U256> pows(shares.size());
    {
      size_t threads = std::min<size_t>(shares.size() / 8 + 1, std::max(1u, std::thread::hardware_concurrency()));
      std::vector<std::thread> pool;
      for (size_t t = 1; t < threads; ++t)
        pool.emplace_back([&, t] {
          for (size_t k = t; k < shares.size(); k += threads) pows[k] = header_pow(cfg.params.coin, shares[k].header);
        });
      for (size_t k = 0; k < shares.size(); k += threads) pows[k] = header_pow(cfg.params.coin, shares[k].header);
      for (auto& th : pool) th.join();
    }
    Effects fx;
    bool need_parent = false, more = false;
    int bad_score = 0;
    std::string bad_reason;
    {
      std::lock_guard lock(mu);
      auto asked = sync_asked.find(peer);
      bool sync_answer = asked != sync_asked.end();
      if (sync_answer) {
        more = n >= asked->second && n > 0;
        sync_asked.erase(asked);
      }
      for (size_t k = 0; k < shares.size(); ++k) {
        AddResult res = add_locked(std::move(shares[k]), fx, !sync_answer, pows[k], false);
        if (res.status == AddStatus::orphan) need_parent = true;
        if (res.status == AddStatus::invalid) {
          // A share from the future may be an honest clock difference: a small score.
          bool clock = res.reason.find("future") != std::string::npos;
          bad_score = std::max(bad_score, clock ? 20 : 100);
          bad_reason = res.reason;
        }
      }
      if (file) {  // one sync for the whole batch
        try {
          file->sync();
        } catch (const std::exception& ex) {
          spdlog::error("p2p: {}", ex.what());
        }
      }
    }
    run(fx, peer);
    if (bad_score) {
      spdlog::warn("p2p: peer {} sent an invalid share: {}", peer, bad_reason);
      net->misbehaving(peer, bad_score, "invalid share: " + bad_reason);
      if (bad_score >= 100) return;
    }
    if (need_parent || more) ask_sync(peer);
  }
};

Node::Node(asio::io_context& io, NodeConfig config) : impl_(std::make_shared<Impl>(io, std::move(config))) {}
Node::~Node() { stop(); }

void Node::start() {
  auto& i = *impl_;
  std::filesystem::create_directories(i.cfg.data_dir);
  auto dir = std::filesystem::path(i.cfg.data_dir);
  i.file = std::make_unique<ShareFile>((dir / "shares.dat").string());
  auto loaded = i.file->load();
  {
    std::lock_guard lock(i.mu);
    Impl::Effects fx;
    size_t ok = 0;
    for (auto& [share, block] : loaded) {
      auto r = i.chain.add(std::move(share), unix_now(), block);
      if (r.status == AddStatus::accepted) {
        ++ok;
        if (r.entry->block) i.remember_block(*r.entry);
      }
    }
    i.chain.take_adopted();
    i.update_gauges();
    if (!loaded.empty())
      spdlog::info("p2p: {} shares loaded from {} (tip height {})", ok, i.file->path(),
                   i.chain.tip() ? i.chain.tip()->share.info.height : 0);
  }
  NetConfig nc;
  nc.network_id = i.chain.network_id();
  nc.node_id = load_or_make_node_id(dir / "node_id");
  nc.listen_host = i.cfg.listen_host;
  nc.listen_port = i.cfg.listen_port;
  nc.seeds = i.cfg.seeds;
  nc.max_peers = i.cfg.max_peers;
  nc.outbound_target = std::min(i.cfg.outbound_peers, i.cfg.max_peers);
  nc.ban_time = i.cfg.ban_time;
  nc.handshake_pow_bits = i.cfg.handshake_pow_bits;
  nc.stratum_port = i.cfg.stratum_port;
  nc.user_agent = "otedama/" + i.cfg.params.name;
  nc.app_message_limits = {{kShares, kMaxSharesMessage}, {kGetShares, 8 + 32 * kMaxLocator + 4}, {kTip, 56}};
  nc.max_message = kMaxSharesMessage;
  i.net = std::make_unique<Network>(i.net_io, nc, i);
  i.net->start();
  i.net_work.emplace(i.net_io.get_executor());
  i.net_thread = std::thread([&i] { i.net_io.run(); });
  i.running = true;
  spdlog::info("p2p: network '{}' ({}) listening on {}:{}", i.cfg.params.name,
               to_hex(i.chain.network_id()).substr(0, 16), i.cfg.listen_host, i.net->port());
}

void Node::stop() {
  auto& i = *impl_;
  if (!i.running.exchange(false)) return;
  if (i.net) i.net->stop();
  i.net_work.reset();
  i.net_io.stop();
  if (i.net_thread.joinable()) i.net_thread.join();
}

uint16_t Node::port() const { return impl_->net ? impl_->net->port() : 0; }
const ChainParams& Node::params() const { return impl_->chain.params(); }
const Hash256& Node::network_id() const { return impl_->chain.network_id(); }
bool Node::block_pow(const U256& pow, const ShareInfo& info, const chain::BlockHeader& header) const {
  return impl_->chain.block_pow(pow, info, header);  // parameters only: no lock needed
}

JobPlan Node::plan(const Bytes& payout_script, int64_t reward, uint32_t now) const {
  auto& i = *impl_;
  std::lock_guard lock(i.mu);
  const ShareEntry* tip = i.chain.tip();
  JobPlan p;
  p.network_id = i.chain.network_id();
  p.info.prev_share = tip ? tip->hash : Hash256{};
  p.info.height = tip ? tip->share.info.height + 1 : 0;
  p.info.bits = i.chain.next_bits(tip);
  p.info.time = tip ? std::max(now, tip->share.info.time) : now;
  p.info.payout_script = payout_script;
  if (i.chain.params().fee_ppm) p.info.fee_script = i.cfg.fee_script;
  p.payouts = i.chain.expected_payouts(tip, p.info, reward);
  p.share_target = U256::from_compact(p.info.bits);
  return p;
}

AddResult Node::submit(Share share, std::optional<U256> pow) {
  auto& i = *impl_;
  Impl::Effects fx;
  AddResult r;
  {
    std::lock_guard lock(i.mu);
    r = i.add_locked(std::move(share), fx, true, pow);
  }
  i.run(fx, 0);
  return r;
}

void Node::on_tip(std::function<void()> cb) { impl_->tip_cb = std::move(cb); }
void Node::on_block(std::function<void(Bytes, std::string, uint32_t)> cb) { impl_->block_cb = std::move(cb); }

NodeStatus Node::status() const {
  auto& i = *impl_;
  NodeStatus s;
  s.network = i.cfg.params.name;
  s.network_id_hex = to_hex(i.chain.network_id());
  {
    std::lock_guard lock(i.mu);
    if (const ShareEntry* t = i.chain.tip()) {
      s.height = t->share.info.height;
      s.tip = chain::display_hex(t->hash);
      s.last_share_unix = t->share.info.time;
    }
    s.share_difficulty = as_double(work_from_target(U256::from_compact(i.chain.next_bits(i.chain.tip()))));
    s.shares = i.chain.size();
    s.orphans = i.chain.orphan_count();
    s.blocks = i.blocks_total;
  }
  s.peers = i.net ? i.net->peers().size() : 0;
  return s;
}

std::vector<PeerSummary> Node::peers() const {
  std::vector<PeerSummary> out;
  if (!impl_->net) return out;
  for (auto& p : impl_->net->peers())
    out.push_back({p.address, p.listen, p.user_agent, p.stratum_port, p.inbound, p.ping_ms, p.ban_score});
  return out;
}

std::vector<MinerInWindow> Node::window_miners() const {
  auto& i = *impl_;
  std::lock_guard lock(i.mu);
  const ShareEntry* tip = i.chain.tip();
  if (!tip) return {};
  auto w = i.chain.window(tip);
  std::map<Bytes, MinerInWindow> by;
  std::vector<WindowShare> ws;
  for (auto* e : w) {
    auto& m = by[e->share.info.payout_script];
    m.script_hex = to_hex(e->share.info.payout_script);
    ++m.shares;
    m.work += as_double(e->work);
    ws.push_back({&e->share.info.payout_script, e->work});
  }
  // What a block found now would pay: the window as it stands (tip's reward).
  for (auto& o : window_payouts(ws, tip->share.reward, tip->share.info, i.chain.params()))
    if (auto it = by.find(o.script); it != by.end()) it->second.expected_payout += o.value;
  std::vector<MinerInWindow> out;
  for (auto& [k, v] : by) out.push_back(v);
  return out;
}

std::vector<BlockFound> Node::blocks(size_t max) const {
  std::lock_guard lock(impl_->mu);
  auto& f = impl_->found;
  std::vector<BlockFound> out(f.rbegin(), f.rbegin() + std::min(max, f.size()));
  return out;
}

std::vector<Node::ShareView> Node::shares(size_t max) const {
  auto& i = *impl_;
  std::lock_guard lock(i.mu);
  std::vector<ShareView> out;
  for (const ShareEntry* e = i.chain.tip(); e && out.size() < max; e = e->parent) {
    ShareView v;
    v.height = e->share.info.height;
    v.hash = chain::display_hex(e->hash);
    v.prev = e->parent ? chain::display_hex(e->parent->hash) : "";
    v.payout_script_hex = to_hex(e->share.info.payout_script);
    v.bits = e->share.info.bits;
    v.time = e->share.info.time;
    v.work = as_double(e->work);
    v.block = e->block;
    v.coin_height = e->share.coin_height;
    v.reward = e->share.reward;
    out.push_back(std::move(v));
  }
  return out;
}

void Node::ban(const std::string& what, std::chrono::seconds d) {
  if (!impl_->net) throw std::runtime_error("the P2P network is not running");
  impl_->net->ban(what, d);
}
bool Node::unban(const std::string& what) { return impl_->net && impl_->net->unban(what); }

}  // namespace otedama::p2p
