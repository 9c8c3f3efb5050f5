// A blocking raw TCP client for the p2p tests: speaks the wire protocol by hand (or breaks it on
// purpose), so tests can play a hostile or broken peer against a real node.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "p2p/net.h"

namespace otedama::p2p::test {

struct RawFrame {
  Magic magic{};
  uint8_t type = 0;
  Bytes payload;
};

class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd_, (sockaddr*)&a, sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect failed");
    }
  }
  ~RawPeer() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  bool send_bytes(ByteSpan b) {
    size_t off = 0;
    while (off < b.size()) {
      ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  bool send_frame(const Magic& magic, uint8_t type, ByteSpan payload) {
    return send_bytes(encode_frame(magic, type, payload));
  }

  // The next frame, or nullopt on timeout, EOF or error.
  std::optional<RawFrame> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uint8_t h[kFrameHeader];
    if (!read_exact(h, sizeof h, deadline)) return std::nullopt;
    RawFrame f;
    std::copy(h, h + 4, f.magic.begin());
    f.type = h[4];
    uint32_t len = uint32_t(h[5]) | uint32_t(h[6]) << 8 | uint32_t(h[7]) << 16 | uint32_t(h[8]) << 24;
    if (len > (16u << 20)) return std::nullopt;
    f.payload.resize(len);
    if (len && !read_exact(f.payload.data(), len, deadline)) return std::nullopt;
    return f;
  }

  // True when the other side closes within the timeout (frames it sends first are skipped).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uint8_t buf[4096];
    while (true) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, left);
      if (r <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool read_exact(uint8_t* out, size_t n, std::chrono::steady_clock::time_point deadline) {
    size_t got = 0;
    while (got < n) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) continue;
      ssize_t r = ::recv(fd_, out + got, n - got, 0);
      if (r <= 0) return false;
      got += size_t(r);
    }
    return true;
  }
  int fd_ = -1;
};

inline Bytes hello_payload(const Hash256& network_id, const Hash256& node_id, uint64_t nonce,
                           uint32_t version = kProtocolVersion, uint16_t listen_port = 0) {
  WireWriter w;
  w.u32(version).raw(network_id).raw(node_id).u16(listen_port).u16(0).u64(nonce).str8("raw-test-peer");
  return w.take();
}

struct ChallengeSeen {
  Hash256 challenge{};
  uint8_t bits = 0;
};

inline std::optional<ChallengeSeen> read_challenge(RawPeer& raw) {
  auto f = raw.read_frame();
  if (!f || f->type != kChallenge) return std::nullopt;
  WireReader r(f->payload);
  r.u32("version");
  r.array<32>("network_id");
  ChallengeSeen c;
  c.challenge = r.array<32>("challenge");
  c.bits = r.u8("bits");
  return c;
}

// Completes the handshake as node `node_id`; true when the node answers with its hello.
inline bool raw_handshake(RawPeer& raw, const Hash256& network_id, const Hash256& node_id) {
  auto c = read_challenge(raw);
  if (!c) return false;
  auto nonce = solve_handshake_pow(c->challenge, network_id, node_id, c->bits);
  raw.send_frame(network_magic(network_id), kHello, hello_payload(network_id, node_id, *nonce));
  auto f = raw.read_frame();
  return f && f->type == kHello;
}

}  // namespace otedama::p2p::test
