// TLS for the Stratum server: a server context from PEM files, and sessions over memory BIOs.
#include "stratum/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace otedama::stratum::tls {

namespace {

// The queued OpenSSL errors as one line (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Opens a file for reading, or throws naming it and why it cannot be read.
std::unique_ptr<BIO, decltype(&BIO_free)> open_pem(const std::string& path, const char* what) {
  if (path.empty()) throw std::runtime_error(std::string("TLS ") + what + " file is not set");
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(std::string("TLS ") + what + " file '" + path + "' cannot be read: " + std::strerror(errno));
  BIO* bio = BIO_new_fp(f, BIO_CLOSE);
  if (!bio) {
    std::fclose(f);
    throw std::runtime_error("out of memory opening '" + path + "'");
  }
  return {bio, &BIO_free};
}

// Never prompts on a terminal for a pass phrase: a node runs unattended.
int no_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

void ContextDeleter::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

Context make_server_context(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  Context ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::runtime_error("cannot create a TLS context: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Idle sessions give their record buffers back: thousands of miners mostly wait.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);

  open_pem(cert_file, "certificate");  // a clear message for a missing file
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    throw std::runtime_error("TLS certificate file '" + cert_file + "' holds no usable PEM certificate: " + openssl_errors());

  auto key_bio = open_pem(key_file, "key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr), &EVP_PKEY_free);
  if (!key)
    throw std::runtime_error("TLS key file '" + key_file +
                             "' holds no usable PEM private key (pass-phrase protected keys are not supported): " +
                             openssl_errors());
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("TLS key file '" + key_file + "' does not match the certificate in '" + cert_file + "'");
  }
  return ctx;
}

Channel::Channel(ssl_ctx_st* ctx) {
  ssl_ = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!ssl_ || !in || !out) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl_);
    ssl_ = nullptr;
    ERR_clear_error();
    throw std::runtime_error("out of memory for a TLS session");
  }
  BIO_set_mem_eof_return(in, -1);  // no input yet means "retry", not end of stream
  SSL_set_bio(ssl_, in, out);      // the session owns both now
  SSL_set_accept_state(ssl_);
}

Channel::~Channel() { SSL_free(ssl_); }

void Channel::fail(int ssl_error) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    error_ = "closed by the peer";
    ERR_clear_error();
  } else if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    error_ = "unexpected end of stream";
  } else {
    error_ = openssl_errors();
  }
}

bool Channel::put_input(const char* data, size_t n) {
  while (n > 0) {
    int chunk = int(std::min<size_t>(n, INT_MAX));
    int w = BIO_write(SSL_get_rbio(ssl_), data, chunk);
    if (w <= 0) {
      error_ = "cannot buffer TLS input";
      return false;
    }
    data += w;
    n -= size_t(w);
  }
  return true;
}

Channel::Step Channel::handshake() {
  if (handshake_done_) return Step::done;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshake_done_ = true;
    return Step::done;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Step::again;
  fail(e);
  return Step::failed;
}

long Channel::read(char* out, size_t capacity) {
  ERR_clear_error();
  int r = SSL_read(ssl_, out, int(std::min<size_t>(capacity, INT_MAX)));
  if (r > 0) return r;
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  fail(e);
  return -1;
}

bool Channel::write(const char* data, size_t n) {
  while (n > 0) {
    ERR_clear_error();
    int r = SSL_write(ssl_, data, int(std::min<size_t>(n, INT_MAX)));
    if (r <= 0) {  // a memory BIO never pushes back, so this is a broken session
      fail(SSL_get_error(ssl_, r));
      return false;
    }
    data += r;
    n -= size_t(r);
  }
  return true;
}

size_t Channel::take_output(char* out, size_t capacity) {
  BIO* b = SSL_get_wbio(ssl_);
  if (BIO_ctrl_pending(b) == 0) return 0;
  int r = BIO_read(b, out, int(std::min<size_t>(capacity, INT_MAX)));
  return r > 0 ? size_t(r) : 0;
}

void Channel::close_notify() {
  if (!handshake_done_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // writes the alert into the output; the peer's reply is not awaited
  ERR_clear_error();
}

}  // namespace otedama::stratum::tls
