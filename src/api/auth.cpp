// Passwords (argon2id through libargon2, crypt(3) through libcrypt), the users list, bearer
// tokens, and the audit log.
#include <argon2.h>
#include <crypt.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/internal.h"

namespace otedama::api {

namespace {

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
constexpr uint32_t kArgonMemoryKiB = 19456, kArgonPasses = 2, kArgonLanes = 1;

std::string random_hex(size_t bytes) {
  std::vector<uint8_t> b(bytes);
  if (RAND_bytes(b.data(), int(b.size())) != 1) throw std::runtime_error("no randomness from OpenSSL");
  return to_hex(b);
}

}  // namespace

std::string hash_password(const std::string& password) {
  std::vector<uint8_t> salt(16);
  if (RAND_bytes(salt.data(), int(salt.size())) != 1) throw std::runtime_error("no randomness for the salt");
  size_t len = argon2_encodedlen(kArgonPasses, kArgonMemoryKiB, kArgonLanes, uint32_t(salt.size()), 32, Argon2_id);
  std::string out(len, '\0');
  int rc = argon2id_hash_encoded(kArgonPasses, kArgonMemoryKiB, kArgonLanes, password.data(), password.size(),
                                 salt.data(), salt.size(), 32, out.data(), out.size());
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2: ") + argon2_error_message(rc));
  out.resize(strlen(out.c_str()));
  return out;
}

bool verify_password(const std::string& password, const std::string& hash) {
  if (hash.rfind("$argon2", 0) == 0) {
    argon2_type type;
    if (hash.rfind("$argon2id$", 0) == 0) type = Argon2_id;
    else if (hash.rfind("$argon2i$", 0) == 0) type = Argon2_i;
    else if (hash.rfind("$argon2d$", 0) == 0) type = Argon2_d;
    else return false;
    return argon2_verify(hash.c_str(), password.data(), password.size(), type) == ARGON2_OK;
  }
  if (hash.size() < 3 || hash[0] != '$') return false;  // no DES crypt: too weak to accept
  crypt_data data{};
  const char* out = crypt_r(password.c_str(), hash.c_str(), &data);
  if (!out || out[0] == '*') return false;
  std::string got(out);
  return got.size() == hash.size() && CRYPTO_memcmp(got.data(), hash.data(), got.size()) == 0;
}

// ---- users -------------------------------------------------------------------------------

std::vector<config::User> load_users(const config::Config::Api::Auth& auth) {
  std::vector<config::User> users = auth.users;
  if (!auth.users_file.empty()) {
    std::ifstream in(auth.users_file);
    if (!in) throw std::runtime_error("api.auth.users_file: cannot read " + auth.users_file);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      // name:hash[:role] (argon2 and crypt(3) hashes contain no ':')
      auto c1 = line.find(':');
      if (c1 == std::string::npos || c1 == 0)
        throw std::runtime_error("api.auth.users_file " + auth.users_file + ":" + std::to_string(n) +
                                 ": expected name:password_hash[:role]");
      auto c2 = line.find(':', c1 + 1);
      config::User u;
      u.name = line.substr(0, c1);
      u.password_hash = line.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
      if (c2 != std::string::npos) u.role = line.substr(c2 + 1);
      users.push_back(u);
    }
  }
  for (const auto& u : users) {
    if (u.name.empty()) throw std::runtime_error("api.auth.users: a user has no name");
    if (u.password_hash.empty() || u.password_hash[0] != '$')
      throw std::runtime_error("api.auth.users: user '" + u.name +
                               "' has no password hash (make one with `otedama passwd`)");
    if (u.role != "admin" && u.role != "viewer")
      throw std::runtime_error("api.auth.users: user '" + u.name + "' has role '" + u.role + "' (admin or viewer)");
  }
  return users;
}

// ---- tokens ------------------------------------------------------------------------------

TokenStore::TokenStore(std::chrono::milliseconds expiry) : expiry_(expiry) {}

TokenStore::Issued TokenStore::issue(const std::string& user, const std::string& role, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune(now);
  // At most kMaxPerUser live tokens per user: the oldest goes first.
  size_t mine = 0;
  auto oldest = tokens_.end();
  for (auto it = tokens_.begin(); it != tokens_.end(); ++it) {
    if (it->second.user != user) continue;
    ++mine;
    if (oldest == tokens_.end() || it->second.expires < oldest->second.expires) oldest = it;
  }
  if (mine >= kMaxPerUser && oldest != tokens_.end()) tokens_.erase(oldest);
  Issued t{random_hex(32), now + expiry_};
  tokens_[t.token] = {user, role, t.expires};
  return t;
}

std::variant<TokenStore::Session, std::string> TokenStore::check(const std::string& token, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::string("unknown or revoked token");
  if (now >= it->second.expires) {
    tokens_.erase(it);
    return std::string("token expired");
  }
  return it->second;
}

bool TokenStore::revoke(const std::string& token) {
  std::lock_guard lock(mutex_);
  return tokens_.erase(token) > 0;
}

void TokenStore::prune(Clock::time_point now) {
  std::erase_if(tokens_, [&](const auto& kv) { return now >= kv.second.expires; });
}

size_t TokenStore::size() const {
  std::lock_guard lock(mutex_);
  return tokens_.size();
}

// ---- audit log ---------------------------------------------------------------------------

AuditLog::AuditLog(std::string path) : path_(std::move(path)) {
  out_.open(path_, std::ios::app);
  if (!out_) throw std::runtime_error("cannot open the audit log " + path_);
}

void AuditLog::record(const std::string& action, const std::string& user, const std::string& ip, bool ok,
                      const std::string& detail) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[40];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  char full[64];
  snprintf(full, sizeof full, "%s.%03dZ", ts, int(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000));
  nlohmann::json j = {{"time", full}, {"action", action}, {"user", user}, {"ip", ip}, {"ok", ok}, {"detail", detail}};
  std::lock_guard lock(mutex_);
  out_ << j.dump() << '\n';
  out_.flush();
}

}  // namespace otedama::api
