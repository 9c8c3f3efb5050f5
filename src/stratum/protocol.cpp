// Wire-format helpers: worker names, fixed-width hex, notify lines.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "stratum/stratum.h"

namespace otedama::stratum {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A positive finite number in plain decimal or exponent form, nothing else.
std::optional<double> parse_positive(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  for (char c : s)
    if (!(std::isdigit((unsigned char)c) || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      return std::nullopt;
  std::string tmp(s);
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

WorkerName parse_worker_name(std::string_view name) {
  WorkerName w;
  std::string_view user = name;
  if (auto plus = name.rfind('+'); plus != std::string_view::npos && plus > 0) {
    if (auto d = parse_positive(name.substr(plus + 1))) {
      w.fixed_difficulty = d;
      user = name.substr(0, plus);
    }
  }
  w.user = std::string(user);
  auto dot = user.find('.');
  w.address = std::string(user.substr(0, dot));
  if (dot != std::string_view::npos) w.worker = std::string(user.substr(dot + 1));
  return w;
}

std::string hex32(uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

bool parse_hex32(std::string_view s, uint32_t& out) {
  if (s.size() != 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d = hex_value(c);
    if (d < 0) return false;
    v = (v << 4) | uint32_t(d);
  }
  out = v;
  return true;
}

std::string difficulty_json(double difficulty) {
  if (difficulty == std::floor(difficulty) && std::fabs(difficulty) < 9007199254740992.0)
    return std::to_string((long long)difficulty);
  return nlohmann::json(difficulty).dump();
}

std::string notify_line(const Job& job) {
  auto quoted = [](std::string& out, const std::string& s) {
    out += '"';
    out += s;  // hex only (checked by the server before it sends)
    out += '"';
  };
  std::string out;
  size_t size = 128 + job.id.size() + job.prevhash_hex.size() + job.coinb1_hex.size() + job.coinb2_hex.size() +
                job.merkle_branch_hex.size() * 67;
  out.reserve(size);
  out += "{\"id\":null,\"method\":\"mining.notify\",\"params\":[";
  out += nlohmann::json(job.id).dump();
  out += ',';
  quoted(out, job.prevhash_hex);
  out += ',';
  quoted(out, job.coinb1_hex);
  out += ',';
  quoted(out, job.coinb2_hex);
  out += ",[";
  for (size_t i = 0; i < job.merkle_branch_hex.size(); ++i) {
    if (i) out += ',';
    quoted(out, job.merkle_branch_hex[i]);
  }
  out += "],";
  quoted(out, hex32(job.version));
  out += ',';
  quoted(out, hex32(job.nbits));
  out += ',';
  quoted(out, hex32(job.ntime));
  out += job.clean ? ",true]}\n" : ",false]}\n";
  return out;
}

std::string monero_job_json(const MoneroJob& job, std::string_view session_id) {
  nlohmann::json j = {{"blob", job.blob_hex},           {"job_id", job.id},
                      {"target", job.target_hex},       {"height", job.height},
                      {"seed_hash", job.seed_hash_hex}, {"algo", job.algo},
                      {"id", std::string(session_id)}};
  if (!job.next_seed_hash_hex.empty()) j["next_seed_hash"] = job.next_seed_hash_hex;
  return j.dump();
}

}  // namespace otedama::stratum
