// Test helpers for stratum+ssl: a self-signed certificate made with OpenSSL's C API (no
// `openssl` command needed), and a small blocking TLS client over a connected socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace otedama::test {

struct CertFiles {
  std::string cert, key;
};

// A fresh P-256 key as an unencrypted PEM file.
inline EVP_PKEY* make_ec_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

inline void write_key(EVP_PKEY* key, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) throw std::runtime_error("PEM_write_PrivateKey failed");
}

// A self-signed certificate for CN=localhost (and its key) in `dir`, valid for a day.
inline CertFiles make_self_signed(const std::filesystem::path& dir, const std::string& name = "pool") {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(make_ec_key(), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), &X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* n = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x.get(), n);
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) throw std::runtime_error("X509_sign failed");
  CertFiles files{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
  FILE* f = std::fopen(files.cert.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + files.cert);
  bool ok = PEM_write_X509(f, x.get()) == 1;
  std::fclose(f);
  if (!ok) throw std::runtime_error("PEM_write_X509 failed");
  write_key(key.get(), files.key);
  return files;
}

// A TCP connection to 127.0.0.1:port, optionally with TLS on top (certificate not verified:
// the test's certificate is self-signed). Blocking, with a receive timeout.
class LineClient {
 public:
  struct Options {
    bool tls = true;
    int max_tls_version = 0;  // e.g. TLS1_1_VERSION to try an old protocol; 0: library default
  };

  LineClient(uint16_t port, Options o) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
    timeval tv{3, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (!o.tls) return;
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (o.max_tls_version) {
      SSL_CTX_set_security_level(ctx_, 0);  // let the old protocol be offered at all
      SSL_CTX_set_min_proto_version(ctx_, 0);
      SSL_CTX_set_max_proto_version(ctx_, o.max_tls_version);
      SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    ERR_clear_error();
    if (SSL_connect(ssl_) != 1) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      handshake_error_ = buf;
    }
  }
  ~LineClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  LineClient(const LineClient&) = delete;

  bool handshake_ok() const { return !ssl_ || handshake_error_.empty(); }
  const std::string& handshake_error() const { return handshake_error_; }
  std::string protocol() const { return ssl_ ? SSL_get_version(ssl_) : "tcp"; }

  bool send_raw(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      long n = ssl_ ? SSL_write(ssl_, s.data() + off, int(s.size() - off))
                    : ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }

  // The next line, or nullopt on timeout or end of stream.
  std::optional<std::string> line(int timeout_ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      if (eof_) return std::nullopt;
      if (!ssl_ || SSL_pending(ssl_) == 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, int(left.count())) <= 0) return std::nullopt;
      }
      char tmp[16384];
      long n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        if (ssl_ && SSL_get_error(ssl_, int(n)) == SSL_ERROR_WANT_READ) continue;  // e.g. a session ticket
        eof_ = true;
        continue;
      }
      buf_.append(tmp, size_t(n));
    }
  }

  // True when the server closes the connection within the timeout (lines meanwhile ignored).
  bool closed_by_server(int timeout_ms = 3000) {
    while (line(timeout_ms)) {
    }
    return eof_;
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string handshake_error_;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace otedama::test
