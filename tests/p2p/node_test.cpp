// p2p::Node over real loopback TCP: nodes in a line converge on one tip (forks resolved by
// work), a late node syncs the whole chain by locator in batches, a restarted node resumes
// from its file and catches up, a partition heals to the heavier side, and a hostile peer (bad PoW, wrong payouts, garbage, an
// oversized frame) is banned while the honest nodes keep their chain and keep relaying.
#include <gtest/gtest.h>

#include <random>

#include "node_harness.h"
#include "p2p/raw_peer.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::p2p;
using namespace otedama::p2p::testing;
using namespace std::chrono_literals;
using otedama::test::eventually;
using otedama::test::TempDir;
using p2p::test::RawPeer;

namespace {

// The node's share-chain message types (src/p2p/node.cpp).
constexpr uint8_t kShares = kFirstAppType + 0;
constexpr uint8_t kGetShares = kFirstAppType + 1;

// Share times start well in the past, one second a share, so no test share is "in the future".
const uint32_t kT0 = uint32_t(std::time(nullptr)) - 200'000;

Hash256 random_id() {
  static std::mt19937_64 rng(std::random_device{}());
  Hash256 h;
  for (auto& b : h) b = uint8_t(rng());
  return h;
}

NodeConfig config_for(const TempDir& dir, const std::string& name, const ChainParams& params,
                      std::vector<std::string> seeds = {}, size_t sync_batch = 500) {
  NodeConfig c;
  c.params = params;
  c.data_dir = (dir.path() / name).string();
  c.listen_host = "127.0.0.1";
  c.listen_port = 0;
  c.seeds = std::move(seeds);
  c.handshake_pow_bits = 8;
  c.sync_batch = sync_batch;
  return c;
}

std::string tip_of(Node& n) { return n.status().tip; }

bool same_tip(std::initializer_list<Node*> nodes, const std::string& tip) {
  for (Node* n : nodes)
    if (tip_of(*n) != tip) return false;
  return true;
}

std::vector<std::string> chain_hashes(Node& n) {
  std::vector<std::string> out;
  for (auto& v : n.shares(1'000'000)) out.push_back(v.hash);
  return out;
}

// Submits a share mined on `at`'s tip and returns its hash (display hex).
std::string submit_on(Node& at, uint32_t script_id, uint32_t salt = 0) {
  Share s = mine_on(at, script_for(script_id), kT0, salt);
  AddResult r = at.submit(s);
  EXPECT_EQ(r.status, AddStatus::accepted) << r.reason;
  return chain::display_hex(s.hash());
}

bool connected(Node& n, size_t peers) { return n.peers().size() >= peers; }

// Three nodes in a line: b dials a, c dials b (c only hears a through b).
struct Line {
  TempDir dir;
  ChainParams params = easy_params("node-test", 20);
  std::unique_ptr<NodeRunner> a, b, c;
  Line() {
    a = std::make_unique<NodeRunner>(config_for(dir, "a", params));
    b = std::make_unique<NodeRunner>(config_for(dir, "b", params, {(*a).address()}));
    c = std::make_unique<NodeRunner>(config_for(dir, "c", params, {(*b).address()}));
  }
  Node& A() { return **a; }
  Node& B() { return **b; }
  Node& C() { return **c; }
  bool linked() { return connected(A(), 1) && connected(B(), 2) && connected(C(), 1); }
};

}  // namespace

TEST(P2pNode, ThreeNodesInALineConvergeOnOneTip) {
  Line net;
  ASSERT_TRUE(eventually([&] { return net.linked(); }, 10s)) << "the nodes did not connect";

  // Shares submitted in turn at each node reach the others, through the middle node.
  std::string last;
  for (int i = 0; i < 12; ++i) {
    Node& at = i % 3 == 0 ? net.A() : i % 3 == 1 ? net.B() : net.C();
    last = submit_on(at, uint32_t(i % 3 + 1), uint32_t(i));
    ASSERT_TRUE(eventually([&] { return same_tip({&net.A(), &net.B(), &net.C()}, last); }, 10s))
        << "share " << i << " did not reach every node";
  }
  EXPECT_EQ(net.A().status().height, 11u);

  // A fork: both ends extend the same tip at once. Equal work: each end keeps its own share
  // until a heavier chain arrives; the middle node's next share settles it for all three.
  std::string fa = submit_on(net.A(), 1, 100), fc = submit_on(net.C(), 3, 101);
  ASSERT_NE(fa, fc);
  ASSERT_TRUE(eventually([&] { return net.B().status().shares == 14; }, 10s)) << "the middle node saw both sides";
  ASSERT_TRUE(eventually([&] { return net.A().status().shares == 14 && net.C().status().shares == 14; }, 10s))
      << "each end received the other's fork share";
  std::string settle = submit_on(net.B(), 2, 102);
  ASSERT_TRUE(eventually([&] { return same_tip({&net.A(), &net.B(), &net.C()}, settle); }, 10s));
  EXPECT_EQ(net.C().status().height, 13u);

  // One chain, share for share, on all three.
  auto ha = chain_hashes(net.A());
  EXPECT_EQ(ha.size(), 14u);
  EXPECT_EQ(chain_hashes(net.B()), ha);
  EXPECT_EQ(chain_hashes(net.C()), ha);
  // The window payouts every node would put in the next coinbase agree too.
  auto flat = [](const std::vector<chain::TxOut>& outs) {
    std::vector<std::pair<int64_t, Bytes>> v;
    for (auto& o : outs) v.emplace_back(o.value, o.script);
    return v;
  };
  auto pa = flat(net.A().plan(script_for(9), 5'000'000'000, kT0 + 100).payouts);
  EXPECT_EQ(flat(net.C().plan(script_for(9), 5'000'000'000, kT0 + 100).payouts), pa);
  EXPECT_GE(pa.size(), 3u);
}

TEST(P2pNode, LateNodeSyncsTheWholeChainInBatches) {
  TempDir dir;
  ChainParams params = easy_params("node-sync", 50);
  const size_t batch = 16;  // the chain below is 12 batches long
  NodeRunner a(config_for(dir, "a", params, {}, batch));
  for (int i = 0; i < 190; ++i) {
    Share s = mine_on(*a, script_for(uint32_t(i % 7)), kT0);
    ASSERT_EQ(a->submit(s).status, AddStatus::accepted);
  }
  ASSERT_EQ(a->status().height, 189u);

  NodeRunner b(config_for(dir, "b", params, {a.address()}, batch));
  ASSERT_TRUE(eventually([&] { return b->status().tip == a->status().tip; }, 20s))
      << "synced only to height " << b->status().height;
  EXPECT_EQ(b->status().shares, 190u);
  EXPECT_EQ(b->status().orphans, 0u);
  EXPECT_EQ(chain_hashes(*b), chain_hashes(*a));

  // After the sync, new shares at either end relay as usual.
  std::string t = submit_on(*b, 3);
  ASSERT_TRUE(eventually([&] { return a->status().tip == t; }, 10s));
}

TEST(P2pNode, RestartedNodeResumesFromDiskThenCatchesUp) {
  TempDir dir;
  ChainParams params = easy_params("node-restart", 20);
  NodeRunner b(config_for(dir, "b", params));
  std::string tip_before;
  uint64_t shares_before = 0;
  {
    NodeRunner a(config_for(dir, "a", params, {b.address()}));
    ASSERT_TRUE(eventually([&] { return connected(*a, 1); }, 10s));
    for (int i = 0; i < 30; ++i) submit_on(*a, uint32_t(i % 4));
    tip_before = a->status().tip;
    shares_before = a->status().shares;
    ASSERT_TRUE(eventually([&] { return b->status().tip == tip_before; }, 10s));
  }
  // While a is down the chain grows at b.
  for (int i = 0; i < 25; ++i) submit_on(*b, 5);
  std::string tip_now = b->status().tip;

  // a restarted on its data directory, before it can reach b: same chain as when it stopped.
  // (Its seed is a port nobody listens on, and it listens on another loopback address than
  // the one b learned for it: the node must not need a peer to come back.)
  uint16_t spare = otedama::test::free_port();
  NodeConfig restarted = config_for(dir, "a", params, {"127.0.0.1:" + std::to_string(spare)});
  restarted.listen_host = "127.0.0.2";
  NodeRunner a2(restarted);
  EXPECT_EQ(a2->status().tip, tip_before);
  EXPECT_EQ(a2->status().shares, shares_before);
  EXPECT_EQ(a2->status().height, 29u);

  // Then it meets b and catches up.
  NodeRunner c(config_for(dir, "c", params, {b.address(), a2.address()}));
  ASSERT_TRUE(eventually([&] { return a2->status().tip == tip_now && c->status().tip == tip_now; }, 15s))
      << "a2 at height " << a2->status().height;
  EXPECT_EQ(a2->status().shares, 55u);
  EXPECT_EQ(chain_hashes(*a2), chain_hashes(*b));
}

TEST(P2pNode, PartitionHealsToTheHeavierChain) {
  TempDir dir;
  ChainParams params = easy_params("node-partition", 20);
  NodeRunner a(config_for(dir, "a", params));
  auto dead_seed = [] { return std::vector<std::string>{"127.0.0.1:" + std::to_string(otedama::test::free_port())}; };
  {
    NodeRunner b(config_for(dir, "b", params, {a.address()}));
    for (int i = 0; i < 10; ++i) submit_on(*a, 1);
    ASSERT_TRUE(eventually([&] { return b->status().tip == a->status().tip; }, 10s));
  }
  // Partition: both sides go on alone from the common 10 shares; b's side finds more.
  for (int i = 0; i < 4; ++i) submit_on(*a, 2);
  std::string b_tip;
  {
    // Alone: a dead seed, and a listening address a has never learned (a keeps dialing the
    // address it learned for b, which must not reach this instance).
    NodeConfig alone = config_for(dir, "b", params, dead_seed());
    alone.listen_host = "127.0.0.2";
    NodeRunner b(alone);
    ASSERT_EQ(b->status().height, 9u);
    for (int i = 0; i < 7; ++i) submit_on(*b, 3);
    b_tip = b->status().tip;
  }
  ASSERT_EQ(a->status().height, 13u);
  // Healed: b (the heavier side) dials a; a learns b's tip, asks from its locator, and
  // reorganizes onto b's chain, keeping its own four shares as a side branch.
  NodeRunner b(config_for(dir, "b", params, {a.address()}));
  EXPECT_EQ(b->status().tip, b_tip);
  ASSERT_TRUE(eventually([&] { return a->status().tip == b_tip; }, 10s)) << "a at height " << a->status().height;
  EXPECT_EQ(a->status().height, 16u);
  EXPECT_EQ(a->status().shares, 21u);
  EXPECT_EQ(chain_hashes(*a), chain_hashes(*b));
  // The next share on a extends the healed chain everywhere.
  std::string t = submit_on(*a, 4);
  EXPECT_TRUE(eventually([&] { return b->status().tip == t; }, 10s));
}

namespace {

// A peer that completed the handshake as `node_id` and then misbehaves.
struct Hostile {
  RawPeer raw;
  Hash256 node_id;
  Magic magic;
  Hostile(Node& target, const Hash256& id) : raw(target.port()), node_id(id), magic(network_magic(target.network_id())) {}
  bool handshake(const Hash256& network_id) { return p2p::test::raw_handshake(raw, network_id, node_id); }
  void send(uint8_t type, ByteSpan payload) { raw.send_frame(magic, type, payload); }
};

Bytes shares_payload(const std::vector<Bytes>& serialized) {
  Bytes out;
  chain::append_varint(out, serialized.size());
  for (auto& b : serialized) {
    chain::append_varint(out, b.size());
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// Whether `target` refuses `node_id` now: a new connection as that node gets a reject (banned)
// or is closed before its hello is answered.
bool refuses(Node& target, const Hash256& node_id) {
  RawPeer again(target.port());
  auto c = p2p::test::read_challenge(again);
  if (!c) return true;
  auto nonce = solve_handshake_pow(c->challenge, target.network_id(), node_id, c->bits);
  again.send_frame(network_magic(target.network_id()), kHello,
                   p2p::test::hello_payload(target.network_id(), node_id, *nonce));
  auto f = again.read_frame(5s);
  if (!f) return true;
  if (f->type != kReject) return false;
  return !f->payload.empty() && f->payload[0] == kRejectBanned;
}

}  // namespace

TEST(P2pNode, HostilePeerIsBannedAndHonestNodesKeepTheirChain) {
  Line net;
  ASSERT_TRUE(eventually([&] { return net.linked(); }, 10s));
  for (int i = 0; i < 5; ++i) submit_on(net.A(), 1, uint32_t(i));
  std::string tip = tip_of(net.A());
  ASSERT_TRUE(eventually([&] { return same_tip({&net.A(), &net.B(), &net.C()}, tip); }, 10s));
  Node& target = net.B();  // the middle node: every share between a and c goes through it
  const Hash256 net_id = target.network_id();
  int relays = 0;

  // After each attack: the attacker is gone and banned, the chain did not move, and a new
  // honest share still travels from one end to the other through the attacked node.
  auto check_after = [&](const Hash256& id, const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_TRUE(refuses(target, id)) << "the attacker was not banned";
    EXPECT_TRUE(same_tip({&net.A(), &net.B(), &net.C()}, tip)) << "the tip moved";
    tip = submit_on(relays % 2 ? net.C() : net.A(), 7, uint32_t(1000 + relays));
    ++relays;
    EXPECT_TRUE(eventually([&] { return same_tip({&net.A(), &net.B(), &net.C()}, tip); }, 10s))
        << "the honest nodes stopped relaying";
  };

  // (a) a share on the tip whose PoW misses the share target.
  {
    Hostile h(target, random_id());
    ASSERT_TRUE(h.handshake(net_id));
    JobPlan plan = target.plan(script_for(66), 5'000'000'000, next_share_time(target, kT0));
    Share bad = mine_planned(plan, 5'000'000'000, 1, /*want_valid=*/false);
    h.send(kShares, shares_payload({serialize_share(bad)}));
    EXPECT_TRUE(h.raw.closed_within(5s));
    EXPECT_EQ(target.status().shares, 5u + relays);
    check_after(h.node_id, "bad proof of work");
  }
  // (b) a share with valid PoW whose coinbase pays itself more than the window says.
  {
    Hostile h(target, random_id());
    ASSERT_TRUE(h.handshake(net_id));
    JobPlan plan = target.plan(script_for(66), 5'000'000'000, next_share_time(target, kT0));
    Share greedy = mine_planned(plan, 5'000'000'000, 2, true, [](std::vector<chain::TxOut>& outs) {
      ASSERT_GE(outs.size(), 2u);
      outs[0].value += outs[1].value;  // steal another payee's output, same total
      outs.erase(outs.begin() + 1);
    });
    h.send(kShares, shares_payload({serialize_share(greedy)}));
    EXPECT_TRUE(h.raw.closed_within(5s));
    check_after(h.node_id, "wrong payouts");
  }
  // (c) malformed kShares payloads (and other malformed share-chain messages), each from a
  // new identity.
  Share good = mine_on(target, script_for(8), kT0, 3);
  Bytes good_bytes = serialize_share(good);
  std::vector<std::pair<std::string, Bytes>> garbage = {
      {"empty payload", {}},
      {"count without shares", {0x03}},
      {"count of 2^64-1", {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
      {"share length past the end", {0x01, 0xfd, 0xff, 0x00, 1, 2}},
      {"random bytes as a share", shares_payload({Bytes(300, 0x5a)})},
      {"truncated share", shares_payload({Bytes(good_bytes.begin(), good_bytes.end() - 7)})},
      {"trailing bytes", [&] {
         Bytes b = shares_payload({good_bytes});
         b.push_back(0);
         return b;
       }()},
  };
  for (auto& [what, payload] : garbage) {
    Hostile h(target, random_id());
    ASSERT_TRUE(h.handshake(net_id)) << what;
    h.send(kShares, payload);
    EXPECT_TRUE(h.raw.closed_within(5s)) << what;
    check_after(h.node_id, "garbage: " + what);
  }
  {
    Hostile h(target, random_id());
    ASSERT_TRUE(h.handshake(net_id));
    Bytes loc = {0xfd, 0x00, 0x01};  // a 256-entry locator: over the limit of 64
    h.send(kGetShares, loc);
    EXPECT_TRUE(h.raw.closed_within(5s));
    check_after(h.node_id, "oversized locator");
  }
  // (d) a frame header announcing 64 MiB of shares (over the 12 MiB limit): refused from the
  // header alone, before any of it is read or allocated.
  {
    Hostile h(target, random_id());
    ASSERT_TRUE(h.handshake(net_id));
    Bytes header(h.magic.begin(), h.magic.end());
    header.push_back(kShares);
    chain::append_le32(header, 64u << 20);
    h.raw.send_bytes(header);
    h.raw.send_bytes(Bytes(4096, 0));
    EXPECT_TRUE(h.raw.closed_within(5s));
    check_after(h.node_id, "oversized frame");
  }
  // An honest peer that sends the same valid share is not punished: the ban was for the
  // misbehaviour, not for being new.
  {
    Hostile h(target, random_id());
    ASSERT_TRUE(h.handshake(net_id));
    Share ok = mine_on(target, script_for(9), kT0, 4);
    h.send(kShares, shares_payload({serialize_share(ok)}));
    std::string want = chain::display_hex(ok.hash());
    EXPECT_TRUE(eventually([&] { return same_tip({&net.A(), &net.B(), &net.C()}, want); }, 10s));
    EXPECT_FALSE(h.raw.closed_within(1s));
  }
  for (auto& p : target.peers()) EXPECT_LT(p.ban_score, 100) << p.address;
}
