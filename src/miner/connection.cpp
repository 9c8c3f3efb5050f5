// PoolLink: the pool connection (plain sockets with poll, or OpenSSL over memory buffers on
// the same socket, see TlsLink), moved out of the Stratum v1 client to serve both protocols.
#include "miner/connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace otedama::miner {

using clock_type = std::chrono::steady_clock;

namespace {

int connect_to(const PoolUrl& u, std::chrono::milliseconds timeout, std::string& error) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (rc != 0) {
    error = std::string("cannot resolve ") + u.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, int(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) break;
        error = strerror(err);
      } else {
        error = "connect timed out";
      }
    } else {
      error = strerror(errno);
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

// A TLS session on a connected non-blocking socket. OpenSSL works on memory buffers and this
// class moves the bytes with send(MSG_NOSIGNAL)/recv like the plain path, so a pool that goes
// away cannot SIGPIPE the miner. Not thread-safe: the caller serializes every call.
}  // namespace

class TlsLink {
 public:
  TlsLink(SSL_CTX* ctx, int fd, const std::string& host) : fd_(fd) {
    ssl_ = SSL_new(ctx);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (!ssl_ || !in || !out) {
      BIO_free(in);
      BIO_free(out);
      SSL_free(ssl_);
      throw std::runtime_error("out of memory for a TLS session");
    }
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl_, in, out);
    SSL_set_connect_state(ssl_);
    in6_addr a6;
    in_addr a4;
    bool literal = inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    if (!literal) SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI, for pools behind a TLS proxy
  }
  ~TlsLink() { SSL_free(ssl_); }
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  const std::string& error() const { return error_; }
  std::string version() const { return SSL_get_version(ssl_); }

  bool handshake(std::chrono::milliseconds timeout, const std::atomic<bool>& stopping) {
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl_);
      int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      if (!flush()) return false;
      if (r == 1) return true;
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return fail(e);
      for (;;) {  // wait for the pool's answer
        if (stopping) return fail_with("stopping");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left.count() <= 0) return fail_with("TLS handshake timed out");
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, int(std::min<int64_t>(left.count(), 200))) > 0) break;
      }
      if (receive() <= 0) return false;
    }
  }

  // Encrypts and sends all of it; false when the connection is broken.
  bool write(const std::string& plain) {
    ERR_clear_error();
    if (SSL_write(ssl_, plain.data(), int(plain.size())) <= 0) return fail(SSL_get_error(ssl_, -1));
    return flush();
  }

  // What the socket has now, decrypted and appended to `out`. False: closed or broken.
  bool read(std::string& out) {
    long got = receive();
    if (got < 0) return true;  // nothing there yet
    if (got == 0) return false;
    char plain[16384];
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(ssl_, plain, sizeof plain);
      if (n > 0) {
        out.append(plain, size_t(n));
        continue;
      }
      int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_WANT_READ) break;
      return fail(e);
    }
    return flush();  // e.g. the answer to a key update
  }

  void close_notify() {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    flush();
    ERR_clear_error();
  }

 private:
  // Ciphertext from the socket into OpenSSL: > 0 bytes, 0 closed (error_ set), -1 none yet.
  long receive() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
    if (n <= 0) {
      error_ = n == 0 ? "closed by the pool" : strerror(errno);
      return 0;
    }
    if (BIO_write(SSL_get_rbio(ssl_), buf, int(n)) != int(n)) {
      error_ = "cannot buffer TLS input";
      return 0;
    }
    return n;
  }

  // Sends what OpenSSL produced, waiting for a slow socket up to 5 s.
  bool flush() {
    BIO* out = SSL_get_wbio(ssl_);
    char buf[16384];
    while (BIO_ctrl_pending(out) > 0) {
      int n = BIO_read(out, buf, sizeof buf);
      if (n <= 0) break;
      size_t off = 0;
      while (off < size_t(n)) {
        ssize_t w = ::send(fd_, buf + off, size_t(n) - off, MSG_NOSIGNAL);
        if (w > 0) {
          off += size_t(w);
          continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          pollfd p{fd_, POLLOUT, 0};
          if (poll(&p, 1, 5000) > 0) continue;
          return fail_with("sending to the pool timed out");
        }
        return fail_with(strerror(errno));
      }
    }
    return true;
  }

  bool fail(int ssl_error) {
    if (ssl_error == SSL_ERROR_ZERO_RETURN) return fail_with("closed by the pool");
    unsigned long e = ERR_get_error();
    if (e == 0) return fail_with(error_.empty() ? "connection lost" : error_);
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return fail_with(buf);
  }
  bool fail_with(const std::string& why) {
    error_ = why;
    return false;
  }

  SSL* ssl_ = nullptr;
  int fd_;
  std::string error_;
};


std::shared_ptr<ssl_ctx_st> make_client_tls_context() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) throw std::runtime_error("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return std::shared_ptr<ssl_ctx_st>(ctx, &SSL_CTX_free);
}

std::unique_ptr<PoolLink> PoolLink::open(const PoolUrl& url, ssl_ctx_st* tls_context,
                                         const std::atomic<bool>& stopping, std::string& error,
                                         std::chrono::milliseconds connect_timeout) {
  int s = connect_to(url, connect_timeout, error);
  if (s < 0) {
    error = "cannot connect to " + url.host + ":" + std::to_string(url.port) + ": " + error;
    return nullptr;
  }
  std::unique_ptr<PoolLink> link(new PoolLink());
  link->fd_ = s;  // closed by ~PoolLink from here on
  if (url.tls) {
    if (!tls_context) throw std::logic_error("PoolLink: a TLS URL without a TLS context");
    link->tls_ = std::make_unique<TlsLink>(tls_context, s, url.host);
    if (!link->tls_->handshake(std::chrono::seconds(5), stopping)) {
      error = "TLS handshake with " + url.host + ":" + std::to_string(url.port) + " failed: " + link->tls_->error();
      link->tls_.reset();  // no close_notify on a failed handshake
      return nullptr;
    }
  }
  return link;
}

PoolLink::~PoolLink() {
  std::lock_guard lock(mutex_);
  if (tls_) tls_->close_notify();
  tls_.reset();
  if (fd_ >= 0) close(fd_);
}

std::string PoolLink::tls_version() const { return tls_ ? tls_->version() : std::string(); }

bool PoolLink::send_line(const std::string& line) {
  std::string msg = line + "\n";
  std::lock_guard lock(mutex_);
  if (tls_) return tls_->write(msg);
  size_t off = 0;
  while (off < msg.size()) {
    ssize_t n = ::send(fd_, msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += size_t(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, 5000) > 0) continue;
    }
    return false;
  }
  return true;
}

bool PoolLink::read_lines(std::chrono::milliseconds timeout, size_t max_line,
                          const std::function<bool(const std::string&)>& on_line, std::string& error) {
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, int(timeout.count()));
  if (r < 0 && errno != EINTR) {
    error = std::string("poll: ") + strerror(errno);
    return false;
  }
  if (r <= 0) return true;
  if (tls_) {
    std::lock_guard lock(mutex_);
    if (!tls_->read(buffer_)) {
      error = "pool closed the connection (TLS: " + tls_->error() + ")";
      return false;
    }
  } else {
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    if (n <= 0) {
      error = n == 0 ? "pool closed the connection" : std::string("connection error: ") + strerror(errno);
      return false;
    }
    buffer_.append(chunk, size_t(n));
  }
  size_t start = 0, pos;
  bool ok = true;
  while (ok && (pos = buffer_.find('\n', start)) != std::string::npos) {
    size_t end = pos;
    if (end > start && buffer_[end - 1] == '\r') --end;
    if (end - start > max_line) {
      error = "pool sent a line longer than " + std::to_string(max_line) + " bytes";
      return false;
    }
    if (end > start) ok = on_line(buffer_.substr(start, end - start));
    start = pos + 1;
  }
  buffer_.erase(0, start);
  if (!ok) return false;
  if (buffer_.size() > max_line) {
    error = "pool sent a line longer than " + std::to_string(max_line) + " bytes";
    return false;
  }
  return true;
}

}  // namespace otedama::miner
