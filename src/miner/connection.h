// PoolLink: one line-based JSON-RPC connection to a pool, plain TCP or TLS, shared by the
// Stratum v1 and the Monero-style clients. Blocking sockets with poll: the network thread
// reads, any thread may send (a mutex serializes them; with TLS, reads take it too, since one
// OpenSSL session must not be used by two threads at once).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "miner/miner.h"

struct ssl_ctx_st;

namespace otedama::miner {

class TlsLink;

// stratum+ssl client context: TLS 1.2 or later, the pool's certificate not verified (pools
// commonly use self-signed ones, and shares carry no secret).
std::shared_ptr<ssl_ctx_st> make_client_tls_context();

class PoolLink {
 public:
  // Connects (and for TLS hands shakes). nullptr with `error` set when that fails.
  // A pool that does not accept the TCP connection within connect_timeout counts as down.
  static std::unique_ptr<PoolLink> open(const PoolUrl& url, ssl_ctx_st* tls_context,
                                        const std::atomic<bool>& stopping, std::string& error,
                                        std::chrono::milliseconds connect_timeout = std::chrono::seconds(3));
  ~PoolLink();  // TLS close_notify, then close
  PoolLink(const PoolLink&) = delete;
  PoolLink& operator=(const PoolLink&) = delete;

  // One message; '\n' is appended. Thread-safe. False when the connection is broken.
  bool send_line(const std::string& line);

  // Waits up to `timeout` for input and passes each complete line (without its "\r\n") to
  // on_line. False ends the session: the pool closed or broke the connection, a line grew
  // past max_line (`error` says which), or on_line returned false (`error` left empty).
  bool read_lines(std::chrono::milliseconds timeout, size_t max_line,
                  const std::function<bool(const std::string&)>& on_line, std::string& error);

  // "TLSv1.3" for TLS links, "" for plain ones.
  std::string tls_version() const;

 private:
  PoolLink() = default;
  int fd_ = -1;
  std::unique_ptr<TlsLink> tls_;
  std::mutex mutex_;
  std::string buffer_;
};

}  // namespace otedama::miner
