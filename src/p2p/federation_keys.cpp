// Ed25519 keys for federation links, through OpenSSL 3's EVP interface.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "crypto/crypto.h"
#include "p2p/federation.h"

namespace otedama::p2p {

namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

}  // namespace

Ed25519Key::Ed25519Key(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {
  size_t len = public_.size();
  if (EVP_PKEY_get_raw_public_key(key_.get(), public_.data(), &len) != 1 || len != 32)
    throw std::runtime_error("ed25519: cannot read the public key: " + openssl_error());
}

Ed25519Key Ed25519Key::generate() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!k) throw std::runtime_error("ed25519: key generation failed: " + openssl_error());
  return Ed25519Key(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free));
}

Ed25519Key Ed25519Key::from_pem(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())), BIO_free);
  if (!bio) throw std::runtime_error("ed25519: out of memory");
  auto no_passphrase = [](char*, int, int, void*) -> int { return 0; };
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (!k) throw std::runtime_error("not a PEM private key (expected `openssl genpkey -algorithm ed25519` output): " +
                                   openssl_error());
  std::shared_ptr<EVP_PKEY> key(k, EVP_PKEY_free);
  if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519)
    throw std::runtime_error(std::string("the key is ") + OBJ_nid2sn(EVP_PKEY_get_id(k)) + ", not ed25519");
  return Ed25519Key(key);
}

Ed25519Key Ed25519Key::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("federation key " + path + ": cannot read: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return from_pem(ss.str());
  } catch (const std::exception& e) {
    throw std::runtime_error("federation key " + path + ": " + e.what());
  }
}

std::string Ed25519Key::to_pem() const {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw std::runtime_error("ed25519: cannot write PEM: " + openssl_error());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

void Ed25519Key::save(const std::string& path) const {
  std::string pem = to_pem();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("federation key " + path + ": cannot create: " + std::strerror(errno));
  size_t off = 0;
  while (off < pem.size()) {
    ssize_t w = ::write(fd, pem.data() + off, pem.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("federation key " + path + ": write failed: " + std::strerror(e));
    }
    off += size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw std::runtime_error("federation key " + path + ": write failed: " + std::strerror(errno));
}

Signature Ed25519Key::sign(ByteSpan message) const {
  Signature sig{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 || len != sig.size())
    throw std::runtime_error("ed25519: signing failed: " + openssl_error());
  return sig;
}

bool ed25519_verify(const PublicKey& key, ByteSpan message, const Signature& signature) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()), EVP_PKEY_free);
  if (!pkey) {
    ERR_clear_error();
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

PublicKey parse_public_key(const std::string& hex) {
  if (hex.size() != 64)
    throw std::invalid_argument("a federation public key is 64 hex digits (32 bytes), got " +
                                std::to_string(hex.size()) + " characters");
  PublicKey k;
  try {
    k = hash_from_hex(hex);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("a federation public key is 64 hex digits; '" + hex + "' is not hex");
  }
  return k;
}

Magic federation_magic() {
  static const std::string tag = "otedama-federation";
  Hash256 h = crypto::sha256d({reinterpret_cast<const uint8_t*>(tag.data()), tag.size()});
  return {h[0], h[1], h[2], h[3]};
}

Bytes federation_transcript(bool connector, const Hash256& first_nonce, const Hash256& second_nonce,
                            const PublicKey& signer, const PublicKey& other) {
  std::string domain = connector ? "otedama-federation-v1 connector" : "otedama-federation-v1 listener";
  Bytes m(domain.begin(), domain.end());
  m.insert(m.end(), first_nonce.begin(), first_nonce.end());
  m.insert(m.end(), second_nonce.begin(), second_nonce.end());
  m.insert(m.end(), signer.begin(), signer.end());
  m.insert(m.end(), other.begin(), other.end());
  return m;
}

}  // namespace otedama::p2p
