// Wire encoding, frames, the handshake's proof of work, and one framed connection.
#include <bit>
#include <cmath>
#include <cstring>

#include "crypto/crypto.h"
#include "p2p/net.h"

namespace otedama::p2p {

// ---- encoding ---------------------------------------------------------------------------------------

WireWriter& WireWriter::f64(double v) { return le(std::bit_cast<uint64_t>(v), 8); }

WireWriter& WireWriter::str8(std::string_view s) {
  if (s.size() > 255) throw std::invalid_argument("string of " + std::to_string(s.size()) + " bytes over 255");
  u8(uint8_t(s.size()));
  out_.insert(out_.end(), s.begin(), s.end());
  return *this;
}

WireWriter& WireWriter::str16(std::string_view s) {
  if (s.size() > 65535) throw std::invalid_argument("string of " + std::to_string(s.size()) + " bytes over 65535");
  u16(uint16_t(s.size()));
  out_.insert(out_.end(), s.begin(), s.end());
  return *this;
}

uint64_t WireReader::le(int n, const char* field) {
  if (remaining() < size_t(n)) throw WireError(std::string("truncated at ") + field);
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(in_[pos_ + i]) << (8 * i);
  pos_ += n;
  return v;
}

double WireReader::f64(const char* field) {
  double v = std::bit_cast<double>(le(8, field));
  if (!std::isfinite(v)) throw WireError(std::string("not a finite number: ") + field);
  return v;
}

ByteSpan WireReader::raw(size_t n, const char* field) {
  if (remaining() < n) throw WireError(std::string("truncated at ") + field);
  auto s = in_.subspan(pos_, n);
  pos_ += n;
  return s;
}

namespace {
std::string printable(ByteSpan s, const char* field) {
  for (uint8_t c : s)
    if (c < 0x20 || c > 0x7e) throw WireError(std::string("non-printable byte in ") + field);
  return std::string(s.begin(), s.end());
}
}  // namespace

std::string WireReader::str8(const char* field) { return printable(raw(u8(field), field), field); }
std::string WireReader::str16(const char* field) { return printable(raw(u16(field), field), field); }

void WireReader::finish(const char* message) {
  if (remaining() != 0)
    throw WireError(std::to_string(remaining()) + " trailing bytes after " + message);
}

// ---- frames -----------------------------------------------------------------------------------------

Magic network_magic(const Hash256& network_id) {
  Bytes b{'o', 't', 'e', 'd', 'a', 'm', 'a', '-', 'p', '2', 'p'};
  b.insert(b.end(), network_id.begin(), network_id.end());
  Hash256 h = crypto::sha256d(b);
  return {h[0], h[1], h[2], h[3]};
}

Bytes encode_frame(const Magic& magic, uint8_t type, ByteSpan payload) {
  if (payload.size() > 0xffffffffu) throw std::invalid_argument("frame payload over 4 GiB");
  Bytes f;
  f.reserve(kFrameHeader + payload.size());
  f.insert(f.end(), magic.begin(), magic.end());
  f.push_back(type);
  uint32_t n = uint32_t(payload.size());
  for (int i = 0; i < 4; ++i) f.push_back(uint8_t(n >> (8 * i)));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

int handshake_pow_zero_bits(const Hash256& challenge, const Hash256& network_id, const Hash256& node_id,
                            uint64_t nonce) {
  std::array<uint8_t, 104> m;
  std::memcpy(m.data(), challenge.data(), 32);
  std::memcpy(m.data() + 32, network_id.data(), 32);
  std::memcpy(m.data() + 64, node_id.data(), 32);
  for (int i = 0; i < 8; ++i) m[96 + i] = uint8_t(nonce >> (8 * i));
  Hash256 h = crypto::sha256d(m);
  int bits = 0;
  for (uint8_t b : h) {
    if (b == 0) {
      bits += 8;
      continue;
    }
    bits += std::countl_zero(b);
    break;
  }
  return bits;
}

std::optional<uint64_t> solve_handshake_pow(const Hash256& challenge, const Hash256& network_id,
                                            const Hash256& node_id, uint32_t bits, const std::atomic<bool>* stop) {
  for (uint64_t nonce = 0;; ++nonce) {
    if (handshake_pow_zero_bits(challenge, network_id, node_id, nonce) >= int(bits)) return nonce;
    if ((nonce & 1023) == 0 && stop && stop->load(std::memory_order_relaxed)) return std::nullopt;
  }
}

std::optional<std::pair<std::string, uint16_t>> split_host_port(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return std::nullopt;
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  for (char c : port)
    if (c < '0' || c > '9') return std::nullopt;
  long p = std::stol(port);
  if (p < 1 || p > 65535) return std::nullopt;
  return std::make_pair(host, uint16_t(p));
}

std::string canonical_ip(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}

std::string join_host_port(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// ---- FramedConnection ------------------------------------------------------------------------------

FramedConnection::FramedConnection(tcp::socket socket, Magic magic, size_t max_send_queue)
    : socket_(std::move(socket)), magic_(magic), max_send_queue_(max_send_queue) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_ip_ = canonical_ip(ep.address());
    remote_port_ = ep.port();
    auto a = ep.address();
    loopback_ = a.is_loopback() || (a.is_v6() && a.to_v6().is_v4_mapped() &&
                                    asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback());
  }
  socket_.set_option(tcp::no_delay(true), ec);
}

void FramedConnection::start(Callbacks callbacks) {
  cb_ = std::move(callbacks);
  read_header();
}

void FramedConnection::read_header() {
  if (!open_) return;
  auto self = shared_from_this();
  asio::async_read(socket_, asio::buffer(header_), [self](boost::system::error_code ec, size_t n) {
    if (!self->open_) return;
    if (ec) return self->finish(ec == asio::error::eof ? "closed by the peer" : ec.message(), false);
    self->bytes_in_ += n;
    self->last_received_ = std::chrono::steady_clock::now();
    bool magic_ok = std::equal(self->magic_.begin(), self->magic_.end(), self->header_.begin());
    if (!magic_ok && !self->accept_foreign_magic) return self->finish("bad magic " + to_hex({self->header_.data(), 4}), true);
    uint8_t type = self->header_[4];
    uint32_t length = uint32_t(self->header_[5]) | uint32_t(self->header_[6]) << 8 | uint32_t(self->header_[7]) << 16 |
                      uint32_t(self->header_[8]) << 24;
    auto limit = self->cb_.limit(type);
    if (!limit) {
      // Before the handshake, a foreign magic with an unknown type is simply not our protocol.
      return self->finish(magic_ok ? "unknown message type 0x" + to_hex({&type, 1})
                                   : "bad magic " + to_hex({self->header_.data(), 4}),
                          true);
    }
    if (length > *limit)
      return self->finish("message type 0x" + to_hex({&type, 1}) + " of " + std::to_string(length) +
                              " bytes over its limit of " + std::to_string(*limit),
                          true);
    self->read_payload(type, length, magic_ok);
  });
}

void FramedConnection::read_payload(uint8_t type, uint32_t length, bool magic_ok) {
  payload_.resize(length);
  auto self = shared_from_this();
  asio::async_read(socket_, asio::buffer(payload_), [self, type, magic_ok](boost::system::error_code ec, size_t n) {
    if (!self->open_) return;
    if (ec) return self->finish(ec == asio::error::eof ? "closed by the peer" : ec.message(), false);
    self->bytes_in_ += n;
    self->last_received_ = std::chrono::steady_clock::now();
    self->in_frame_callback_ = true;
    self->cb_.frame(type, self->payload_, magic_ok);
    self->in_frame_callback_ = false;
    if (!self->open_) {
      self->cb_ = {};
      Bytes().swap(self->payload_);
      return;
    }
    // Don't hold a large buffer for an idle peer.
    if (self->payload_.capacity() > (64u << 10)) Bytes().swap(self->payload_);
    self->read_header();
  });
}

bool FramedConnection::send(uint8_t type, ByteSpan payload) { return send_frame(encode_frame(magic_, type, payload)); }

bool FramedConnection::send_frame(Bytes frame) {
  if (!open_ || closing_after_flush_) return false;
  if (queued_bytes_ + frame.size() > max_send_queue_) {
    // Closed from the loop, not inside the caller's send (which may be a callback of ours).
    closing_after_flush_ = true;
    auto why = "it reads too slowly (" + std::to_string(queued_bytes_) + " bytes queued)";
    asio::post(socket_.get_executor(), [self = shared_from_this(), why] { self->finish(why, false); });
    return false;
  }
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (!writing_) write_next();
  return true;
}

void FramedConnection::write_next() {
  if (!open_) return;
  if (queue_.empty()) {
    writing_ = false;
    if (closing_after_flush_) finish(close_why_, false);
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(queue_.front()), [self](boost::system::error_code ec, size_t n) {
    if (!self->open_) return;
    if (ec) return self->finish(ec.message(), false);
    self->bytes_out_ += n;
    self->queued_bytes_ -= self->queue_.front().size();
    self->queue_.pop_front();
    self->write_next();
  });
}

void FramedConnection::close(const std::string& why, bool violation) { finish(why, violation); }

void FramedConnection::close_after_flush(const std::string& why) {
  if (!open_ || closing_after_flush_) return;
  closing_after_flush_ = true;
  close_why_ = why;
  if (!writing_) return finish(why, false);
  flush_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor(), std::chrono::seconds(2));
  auto self = shared_from_this();
  flush_timer_->async_wait([self](boost::system::error_code ec) {
    if (!ec) self->finish(self->close_why_, false);
  });
}

void FramedConnection::finish(const std::string& why, bool violation) {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  if (flush_timer_) flush_timer_->cancel();
  queue_.clear();
  queued_bytes_ = 0;
  if (!in_frame_callback_) Bytes().swap(payload_);  // the callback may still read it
  auto closed = std::move(cb_.closed);
  cb_.closed = nullptr;
  // Break the owner's reference cycle through the callbacks (not while one of them runs).
  if (!in_frame_callback_) cb_ = {};
  if (closed) closed(why, violation);
}

}  // namespace otedama::p2p
