// Federation links on real loopback sockets: ed25519 keys (RFC 8032 vector), mutual
// authentication, wrong and unknown keys refused, block notices, health and takeover offers.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <thread>

#include "p2p/federation.h"
#include "p2p/raw_peer.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::p2p;
using namespace std::chrono_literals;
using otedama::test::eventually;

namespace {

// RFC 8032 section 7.1, test 1, as the PKCS#8 PEM `openssl genpkey -algorithm ed25519` writes.
const char* kRfcPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
const char* kRfcPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const char* kRfcSignatureOfEmpty =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
    "655141438e7a100b";

struct Events {
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> links;
  std::vector<std::pair<std::string, BlockNotice>> blocks;
  std::vector<std::pair<std::string, Health>> health;
  std::vector<std::pair<std::string, TakeoverOffer>> offers;
  std::vector<std::string> requests;
  std::chrono::steady_clock::time_point block_seen{};
};

struct Pool {
  asio::io_context io;
  Events ev;
  std::shared_ptr<const Ed25519Key> key;
  std::unique_ptr<Federation> fed;
  std::thread thread;

  explicit Pool(std::shared_ptr<const Ed25519Key> k) : key(std::move(k)) {}
  void start(FederationConfig c) {
    c.key = key;
    Federation::Callbacks cb;
    cb.on_link = [this](const std::string& p, bool up) {
      std::lock_guard g(ev.mu);
      ev.links.emplace_back(p, up);
    };
    cb.on_block_notice = [this](const std::string& p, const BlockNotice& n) {
      std::lock_guard g(ev.mu);
      ev.block_seen = std::chrono::steady_clock::now();
      ev.blocks.emplace_back(p, n);
    };
    cb.on_health = [this](const std::string& p, const Health& h) {
      std::lock_guard g(ev.mu);
      ev.health.emplace_back(p, h);
    };
    cb.on_takeover_request = [this](const std::string& p, const std::string& coin, uint32_t) {
      std::lock_guard g(ev.mu);
      ev.requests.push_back(p + ":" + coin);
      return true;
    };
    cb.on_takeover_offer = [this](const std::string& p, const TakeoverOffer& o) {
      std::lock_guard g(ev.mu);
      ev.offers.emplace_back(p, o);
    };
    fed = std::make_unique<Federation>(io, std::move(c), std::move(cb));
    fed->start();
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  void stop() {
    if (!fed) return;
    fed->stop();
    io.stop();
    thread.join();
    fed.reset();
  }
  ~Pool() { stop(); }
  bool up(const std::string& peer) const {
    for (auto& l : fed->links())
      if (l.name == peer) return l.up;
    return false;
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(fed->port()); }
};

FederationConfig base(const std::string& name) {
  FederationConfig c;
  c.name = name;
  c.listen_host = "127.0.0.1";
  c.listen_port = 0;
  c.health_interval = 200ms;
  c.tick = 50ms;
  c.retry_min = 100ms;
  c.retry_max = 300ms;
  c.handshake_timeout = 2000ms;
  return c;
}

auto new_key() { return std::make_shared<const Ed25519Key>(Ed25519Key::generate()); }

}  // namespace

TEST(FederationKeys, Rfc8032VectorAndPemFiles) {
  auto k = Ed25519Key::from_pem(kRfcPem);
  EXPECT_EQ(k.public_key_hex(), kRfcPublic);
  auto sig = k.sign({});
  EXPECT_EQ(to_hex(sig), kRfcSignatureOfEmpty);
  EXPECT_TRUE(ed25519_verify(k.public_key(), {}, sig));
  Bytes msg{1, 2, 3};
  auto s2 = k.sign(msg);
  EXPECT_TRUE(ed25519_verify(parse_public_key(kRfcPublic), msg, s2));
  msg[0] ^= 1;
  EXPECT_FALSE(ed25519_verify(k.public_key(), msg, s2));
  EXPECT_FALSE(ed25519_verify(new_key()->public_key(), Bytes{1, 2, 3}, s2));

  otedama::test::TempDir dir;
  auto g = Ed25519Key::generate();
  std::string path = (dir.path() / "fed.pem").string();
  g.save(path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Ed25519Key::load(path).public_key(), g.public_key());
  EXPECT_THROW(g.save(path), std::runtime_error);  // never overwrites a key

  EXPECT_THROW(Ed25519Key::load((dir.path() / "missing.pem").string()), std::runtime_error);
  EXPECT_THROW(Ed25519Key::load(dir.file("junk.pem", "hello")), std::runtime_error);
  // Another key type is refused by name.
  auto ec_key = dir.file("ec.pem",  // openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
                         "-----BEGIN PRIVATE KEY-----\n"
                         "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgay5YgM6QccPU1O3U\n"
                         "nzBAUdW5t07FnH06yMIOsO4DwMGhRANCAAQJE/T2pINdMQUHyVefvTjYa9VbiOqA\n"
                         "E4RUQSN1eb27PUkqFFtLkoeXujmDi8ejt68eCfnxcwGPb7jlTVqf2asu\n"
                         "-----END PRIVATE KEY-----\n");
  try {
    Ed25519Key::load(ec_key);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not ed25519"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_public_key("abcd"), std::invalid_argument);
  EXPECT_THROW(parse_public_key(std::string(64, 'z')), std::invalid_argument);
}

TEST(Federation, LinkAuthenticatesAndCarriesBlocksHealthAndTakeovers) {
  Pool a(new_key()), b2(new_key());
  auto cb = base("pool-b");
  cb.peers = {{"pool-a", "", a.key->public_key()}};  // no address: a dials b
  b2.start(cb);
  auto ca = base("pool-a");
  ca.peers = {{"pool-b", b2.addr(), b2.key->public_key()}};
  a.start(ca);
  ASSERT_TRUE(eventually([&] { return a.up("pool-b") && b2.up("pool-a"); }, 5s));
  auto links = a.fed->links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_FALSE(links[0].inbound);
  EXPECT_EQ(links[0].public_key, b2.key->public_key_hex());

  // A block found on a is announced to b within a second.
  BlockNotice n{"litecoin", 1234, Hash256{}, 0};
  n.hash[0] = 0xab;
  auto sent = std::chrono::steady_clock::now();
  a.fed->announce_block(n);
  ASSERT_TRUE(eventually([&] { std::lock_guard g(b2.ev.mu); return !b2.ev.blocks.empty(); }, 1000ms, 5ms));
  {
    std::lock_guard g(b2.ev.mu);
    EXPECT_EQ(b2.ev.blocks[0].first, "pool-a");
    EXPECT_EQ(b2.ev.blocks[0].second.coin, "litecoin");
    EXPECT_EQ(b2.ev.blocks[0].second.height, 1234u);
    EXPECT_EQ(b2.ev.blocks[0].second.hash, n.hash);
    EXPECT_GT(b2.ev.blocks[0].second.unix_ms, 0);
    EXPECT_LT(b2.ev.block_seen - sent, 1000ms);
  }

  // Health: b's stratum listens on all interfaces; a sees it at b's address.
  b2.fed->set_health({"litecoin", true, 1234, 7, 1.5e6, "0.0.0.0", 3334, 0});
  ASSERT_TRUE(eventually([&] { return a.fed->healthy_stratum_for("litecoin").has_value(); }, 3s));
  EXPECT_EQ(*a.fed->healthy_stratum_for("litecoin"), std::make_pair(std::string("127.0.0.1"), uint16_t(3334)));
  EXPECT_FALSE(a.fed->healthy_stratum_for("monero"));
  {
    std::lock_guard g(a.ev.mu);
    ASSERT_FALSE(a.ev.health.empty());
    EXPECT_EQ(a.ev.health.back().second.miners, 7u);
    EXPECT_DOUBLE_EQ(a.ev.health.back().second.hashrate, 1.5e6);
  }
  // Health keeps coming (it is periodic), so a's view stays fresh.
  size_t seen = a.ev.health.size();
  ASSERT_TRUE(eventually([&] { std::lock_guard g(a.ev.mu); return a.ev.health.size() > seen + 1; }, 3s));

  // a's upstream fails: it asks, b accepts with its stratum endpoint.
  a.fed->set_health({"litecoin", false, 1234, 5, 0, "127.0.0.1", 3333, 0});
  a.fed->request_takeover("litecoin", 5);
  ASSERT_TRUE(eventually([&] { std::lock_guard g(a.ev.mu); return !a.ev.offers.empty(); }, 3s));
  {
    std::lock_guard g(a.ev.mu);
    EXPECT_TRUE(a.ev.offers[0].second.accept);
    EXPECT_EQ(a.ev.offers[0].second.stratum_port, 3334);
    EXPECT_EQ(a.ev.offers[0].second.stratum_host, "127.0.0.1");
    EXPECT_EQ(a.ev.offers[0].second.capacity, 5u);
  }
  {
    std::lock_guard g(b2.ev.mu);
    ASSERT_EQ(b2.ev.requests.size(), 1u);
    EXPECT_EQ(b2.ev.requests[0], "pool-a:litecoin");
  }
  // b asks a for monero, which a does not serve: declined.
  b2.fed->request_takeover("monero", 1);
  ASSERT_TRUE(eventually([&] { std::lock_guard g(b2.ev.mu); return !b2.ev.offers.empty(); }, 3s));
  {
    std::lock_guard g(b2.ev.mu);
    EXPECT_FALSE(b2.ev.offers[0].second.accept);
  }
  // a's own daemon is down: b does not send miners to a.
  ASSERT_TRUE(eventually([&] {
    for (auto& l : b2.fed->links())
      for (auto& h : l.health)
        if (h.coin == "litecoin" && !h.daemon_ok) return true;
    return false;
  }, 3s));
  EXPECT_FALSE(b2.fed->healthy_stratum_for("litecoin"));

  // b goes away: a no longer offers it, and says the link is down.
  b2.stop();
  ASSERT_TRUE(eventually([&] { return !a.up("pool-b"); }, 5s));
  EXPECT_FALSE(a.fed->healthy_stratum_for("litecoin"));
  {
    std::lock_guard g(a.ev.mu);
    ASSERT_GE(a.ev.links.size(), 2u);
    EXPECT_EQ(a.ev.links.back(), std::make_pair(std::string("pool-b"), false));
  }
}

TEST(Federation, BothSidesDialingKeepOneLink) {
  Pool a(new_key()), b(new_key());
  auto pa = otedama::test::free_port(), pb = otedama::test::free_port();
  auto ca = base("pool-a");
  ca.listen_port = pa;
  ca.peers = {{"pool-b", "127.0.0.1:" + std::to_string(pb), b.key->public_key()}};
  auto cb = base("pool-b");
  cb.listen_port = pb;
  cb.peers = {{"pool-a", "127.0.0.1:" + std::to_string(pa), a.key->public_key()}};
  a.start(ca);
  b.start(cb);
  ASSERT_TRUE(eventually([&] { return a.up("pool-b") && b.up("pool-a"); }, 5s));
  std::this_thread::sleep_for(1000ms);  // both keep redialing while down; once up, the link stays
  EXPECT_TRUE(a.up("pool-b"));
  EXPECT_TRUE(b.up("pool-a"));
  a.fed->announce_block({"bitcoin", 1, Hash256{}, 0});
  ASSERT_TRUE(eventually([&] { std::lock_guard g(b.ev.mu); return b.ev.blocks.size() == 1; }, 3s));
  std::this_thread::sleep_for(200ms);
  std::lock_guard g(b.ev.mu);
  EXPECT_EQ(b.ev.blocks.size(), 1u);  // one link, one notice
}

TEST(Federation, WrongAndUnknownKeysAreRefused) {
  Pool a(new_key()), b(new_key()), stranger(new_key());
  auto cb = base("pool-b");
  cb.peers = {{"pool-a", "", a.key->public_key()}};
  b.start(cb);
  // a expects another key at b's address: it refuses b's challenge.
  auto ca = base("pool-a");
  ca.peers = {{"pool-b", b.addr(), new_key()->public_key()}};
  a.start(ca);
  // The stranger is not listed by b: b refuses it.
  auto cs = base("stranger");
  cs.peers = {{"pool-b", b.addr(), b.key->public_key()}};
  stranger.start(cs);
  std::this_thread::sleep_for(1500ms);  // several attempts each
  EXPECT_FALSE(a.up("pool-b"));
  EXPECT_FALSE(b.up("pool-a"));
  EXPECT_FALSE(stranger.up("pool-b"));
  std::lock_guard g(b.ev.mu);
  EXPECT_TRUE(b.ev.links.empty());
}

TEST(Federation, ForgedHelloIsRefused) {
  // A client that copies a listed key without holding it cannot sign the nonce.
  Pool b(new_key());
  auto listed = new_key();
  auto cb = base("pool-b");
  cb.peers = {{"pool-a", "", listed->public_key()}};
  b.start(cb);
  p2p::test::RawPeer raw(b.fed->port());
  auto f = raw.read_frame();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->type, kFedChallenge);
  WireReader r(f->payload);
  r.u32("v");
  auto their_key = r.array<32>("k");
  EXPECT_EQ(their_key, b.key->public_key());
  auto nonce = r.array<32>("n");
  auto forger = new_key();
  Hash256 mine{};
  mine[0] = 1;
  auto sig = forger->sign(federation_transcript(true, nonce, mine, listed->public_key(), their_key));
  WireWriter w;
  w.u32(kFederationVersion).raw(listed->public_key()).raw(mine).str8("forger").raw(sig);
  raw.send_frame(federation_magic(), kFedHello, w.bytes());
  auto reply = raw.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, kFedReject);
  EXPECT_TRUE(raw.closed_within(3s));
  EXPECT_FALSE(b.up("pool-a"));

  // Garbage and oversized frames are dropped; the listener keeps serving.
  p2p::test::RawPeer junk(b.fed->port());
  junk.send_bytes(Bytes(100, 0x42));
  EXPECT_TRUE(junk.closed_within(3s));
  p2p::test::RawPeer big(b.fed->port());
  ASSERT_TRUE(big.read_frame());
  Bytes h = encode_frame(federation_magic(), kFedHello, {});
  h[7] = 0x10;  // 1 MiB
  big.send_bytes(h);
  EXPECT_TRUE(big.closed_within(3s));
  p2p::test::RawPeer after(b.fed->port());
  auto again = after.read_frame();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->type, kFedChallenge);
}

TEST(Federation, ConfigIsChecked) {
  asio::io_context io;
  FederationConfig c = base("x");
  EXPECT_THROW(Federation(io, c, {}), std::invalid_argument);  // no key
  auto k = new_key();
  c.key = k;
  c.peers = {{"self", "127.0.0.1:1", k->public_key()}};
  EXPECT_THROW(Federation(io, c, {}), std::invalid_argument);
  auto other = new_key();
  c.peers = {{"a", "127.0.0.1:1", other->public_key()}, {"b", "127.0.0.1:2", other->public_key()}};
  EXPECT_THROW(Federation(io, c, {}), std::invalid_argument);
  c.peers = {{"a", "nohostport", other->public_key()}};
  EXPECT_THROW(Federation(io, c, {}), std::invalid_argument);
  c.peers = {{"a", "127.0.0.1:1", other->public_key()}};
  EXPECT_NO_THROW(Federation(io, c, {}));
}
