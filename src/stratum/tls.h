// TLS for the Stratum server (stratum+ssl), private to this module. OpenSSL runs over memory
// BIOs: the server reads ciphertext from the socket with the same readiness-driven,
// non-blocking code as plain sessions, feeds it in, and writes out what OpenSSL produced. So a
// TLS session needs no per-connection read buffer and no second I/O model.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct ssl_ctx_st;  // SSL_CTX
struct ssl_st;      // SSL

namespace otedama::stratum::tls {

struct ContextDeleter {
  void operator()(ssl_ctx_st* ctx) const;
};
using Context = std::unique_ptr<ssl_ctx_st, ContextDeleter>;

// A server context for TLS 1.2 and later with a PEM certificate chain and a PEM private key
// (unencrypted). Throws std::runtime_error naming the file: missing or unreadable, not PEM, or
// a key that does not belong to the certificate.
Context make_server_context(const std::string& cert_file, const std::string& key_file);

// One server-side TLS session. Ciphertext goes in with put_input(), plaintext comes out of
// read(); plaintext goes in with write(), ciphertext comes out of take_output().
class Channel {
 public:
  explicit Channel(ssl_ctx_st* ctx);  // throws std::runtime_error when OpenSSL is out of memory
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  enum class Step { done, again, failed };

  bool handshake_done() const { return handshake_done_; }
  // Ciphertext from the peer; false when OpenSSL refuses it (out of memory).
  bool put_input(const char* data, size_t n);
  // Advances the handshake with the input so far; its replies wait in take_output().
  Step handshake();
  // Plaintext: > 0 bytes read, 0 when more input is needed, -1 when the peer closed the
  // session or the stream is broken (error() says which).
  long read(char* out, size_t capacity);
  // Encrypts everything (after the handshake); false when the session is broken.
  bool write(const char* data, size_t n);
  // Ciphertext to send, up to capacity bytes; 0 when there is none.
  size_t take_output(char* out, size_t capacity);
  // Queues a close_notify alert (best effort).
  void close_notify();
  // Why the last call failed, in OpenSSL's words.
  const std::string& error() const { return error_; }

 private:
  void fail(int ssl_error);

  ssl_st* ssl_ = nullptr;
  bool handshake_done_ = false;
  std::string error_;
};

}  // namespace otedama::stratum::tls
