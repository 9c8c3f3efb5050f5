#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/core.h"

extern char** environ;

namespace otedama::config {

// ---- small conversions ------------------------------------------------------------------

std::string Address::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Address> parse_address(const std::string& text, std::string* why) {
  auto fail = [&](const std::string& w) -> std::optional<Address> {
    if (why) *why = w;
    return std::nullopt;
  };
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail("expected [IPv6]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return fail("expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return fail("an IPv6 address needs brackets: [::1]:port");
  }
  if (host.empty()) return fail("the host is missing (use 0.0.0.0 for all interfaces)");
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit))
    return fail("the port must be a number from 1 to 65535");
  long p = std::stol(port);
  if (p < 1 || p > 65535) return fail("the port must be a number from 1 to 65535");
  return Address{host, uint16_t(p)};
}

const char* to_string(Mode m) { return m == Mode::development ? "development" : "production"; }
const char* to_string(RewardSystem r) {
  switch (r) {
    case RewardSystem::PPLNS: return "PPLNS";
    case RewardSystem::PPS: return "PPS";
    case RewardSystem::FPPS: return "FPPS";
    case RewardSystem::SOLO: return "SOLO";
  }
  return "?";
}
const char* to_string(Priority p) {
  switch (p) {
    case Priority::idle: return "idle";
    case Priority::low: return "low";
    case Priority::normal: return "normal";
    case Priority::high: return "high";
  }
  return "?";
}
const char* to_string(StorageDriver d) { return d == StorageDriver::sqlite ? "sqlite" : "postgres"; }

std::string coin_algorithm(const std::string& coin) {
  if (coin == "bitcoin") return "sha256d";
  if (coin == "litecoin") return "scrypt";
  if (coin == "monero") return "randomx";
  return "";
}

std::string ConfigError::format() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("OTEDAMA_", 0) == 0) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// ---- the reader -------------------------------------------------------------------------

namespace {

const std::vector<std::string> kSections = {"app", "logging", "mining", "pool", "pools", "api",
                                            "monitoring", "storage", "p2p"};
const std::vector<std::string> kAlgorithms = {"sha256d", "scrypt", "randomx", "ethash", "etchash", "kawpow"};

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    default: return "nothing";
  }
}

struct Ctx {
  std::string file;
  std::vector<ConfigError>* errors;
  std::vector<std::string>* warnings;
  std::map<std::string, std::string> env_paths;  // key path -> environment variable

  void error(const YAML::Node& at, const std::string& path, const std::string& message) {
    ConfigError e;
    e.key = path;
    e.message = message;
    // A value that came from the environment is reported by its variable.
    for (const auto& [p, var] : env_paths) {
      if (path == p || path.rfind(p + ".", 0) == 0 || path.rfind(p + "[", 0) == 0) {
        e.file = "environment " + var;
        errors->push_back(e);
        return;
      }
    }
    e.file = file;
    if (at.IsDefined() && at.Mark().line >= 0) {
      e.line = at.Mark().line + 1;
      e.column = at.Mark().column + 1;
    }
    errors->push_back(e);
  }
};

std::string did_you_mean(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : known) {
    size_t d = edit_distance(key, k);
    if (d < best_d) best_d = d, best = k;
  }
  if (!best.empty() && best_d <= std::max<size_t>(2, key.size() / 3)) return best;
  return "";
}

// A YAML map with a fixed set of keys, read field by field into typed values.
class Section {
 public:
  Section(Ctx& ctx, YAML::Node node, std::string path, std::vector<std::string> keys)
      : ctx_(ctx), node_(node), path_(std::move(path)), keys_(std::move(keys)) {
    if (!node_.IsDefined() || node_.IsNull()) {
      valid_ = false;
      return;
    }
    if (!node_.IsMap()) {
      ctx_.error(node_, path_, "expected a map of settings, got " + kind_of(node_));
      valid_ = false;
      return;
    }
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string k = it->first.Scalar();
      if (std::find(keys_.begin(), keys_.end(), k) == keys_.end()) {
        std::string msg = "unknown key '" + k + "'";
        std::string hint = did_you_mean(k, keys_);
        if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
        else msg += "; known keys: " + join(keys_);
        ctx_.error(it->first, child_path(k), msg);
      }
    }
  }

  std::string child_path(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  YAML::Node get(const char* key) const { return valid_ ? node_[key] : YAML::Node(); }
  bool has(const char* key) const {
    auto n = get(key);
    return n.IsDefined() && !n.IsNull();
  }
  Section section(const char* key, std::vector<std::string> keys) const {
    return Section(ctx_, get(key), child_path(key), std::move(keys));
  }
  Ctx& ctx() const { return ctx_; }

  bool scalar(const char* key, std::string& out, const char* expected) const {
    auto n = get(key);
    if (!n.IsDefined() || n.IsNull()) return false;
    if (!n.IsScalar()) {
      ctx_.error(n, child_path(key), std::string("expected ") + expected + ", got " + kind_of(n));
      return false;
    }
    out = n.Scalar();
    return true;
  }
  void bad(const char* key, const std::string& msg) const { ctx_.error(get(key), child_path(key), msg); }

  void boolean(const char* key, bool& out) const {
    std::string s;
    if (!scalar(key, s, "true or false")) return;
    bool v;
    if (!YAML::convert<bool>::decode(get(key), v)) return bad(key, "expected true or false, got '" + s + "'");
    out = v;
  }
  void string(const char* key, std::string& out) const {
    std::string s;
    if (scalar(key, s, "a string")) out = s;
  }
  template <class Int>
  void integer(const char* key, Int& out, int64_t min, int64_t max) const {
    std::string s;
    if (!scalar(key, s, "an integer")) return;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno)
      return bad(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + s + "'");
    if (v < min || v > max)
      return bad(key, "value " + s + " is out of range (expected " + std::to_string(min) + " to " + std::to_string(max) + ")");
    out = Int(v);
  }
  void number(const char* key, double& out, double min, double max, bool min_exclusive = false) const {
    std::string s;
    if (!scalar(key, s, "a number")) return;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v)) return bad(key, "expected a number, got '" + s + "'");
    if (v < min || v > max || (min_exclusive && v == min)) {
      std::ostringstream r;
      r << "value " << s << " is out of range (expected " << (min_exclusive ? "more than " : "") << min << " to " << max << ")";
      return bad(key, r.str());
    }
    out = v;
  }
  void duration(const char* key, Duration& out, Duration min, Duration max) const {
    std::string s;
    if (!scalar(key, s, "a duration")) return;
    auto d = parse_duration(s);
    if (!d) return bad(key, "expected a duration such as 500ms, 5s, 2h or 1h30m, got '" + s + "'");
    if (*d < min || *d > max)
      return bad(key, "duration " + s + " is out of range (expected " + format_duration(min) + " to " + format_duration(max) + ")");
    out = *d;
  }
  void size(const char* key, uint64_t& out, uint64_t min, uint64_t max) const {
    std::string s;
    if (!scalar(key, s, "a size")) return;
    auto v = parse_size(s);
    if (!v) return bad(key, "expected a size such as 512KiB, 10MB or 1GiB, got '" + s + "'");
    if (*v < min || *v > max) return bad(key, "size " + s + " is out of range");
    out = *v;
  }
  void address(const char* key, Address& out) const {
    std::string s, why;
    if (!scalar(key, s, "an address host:port")) return;
    auto a = parse_address(s, &why);
    if (!a) return bad(key, "expected an address host:port such as 0.0.0.0:8080 or [::1]:8080, got '" + s + "': " + why);
    out = *a;
  }
  void choice(const char* key, std::string& out, const std::vector<std::string>& allowed) const {
    std::string s;
    if (!scalar(key, s, "a string")) return;
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      std::string msg = "'" + s + "' is not one of " + join(allowed, "|");
      std::string hint = did_you_mean(s, allowed);
      if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
      return bad(key, msg);
    }
    out = s;
  }
  template <class E>
  void enumeration(const char* key, E& out, const std::vector<std::pair<std::string, E>>& values) const {
    std::vector<std::string> names;
    for (auto& [n, v] : values) names.push_back(n);
    std::string s;
    choice(key, s, names);
    for (auto& [n, v] : values)
      if (n == s) out = v;
  }
  // A list of scalars; each item is checked by `item` (returns an error message or "").
  template <class F>
  void list(const char* key, std::vector<std::string>& out, F item) const {
    auto n = get(key);
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) return bad(key, "expected a list, got " + kind_of(n));
    out.clear();
    for (size_t i = 0; i < n.size(); ++i) {
      std::string p = child_path(key) + "[" + std::to_string(i) + "]";
      if (!n[i].IsScalar()) {
        ctx_.error(n[i], p, "expected a string, got " + kind_of(n[i]));
        continue;
      }
      std::string why = item(n[i].Scalar());
      if (!why.empty()) ctx_.error(n[i], p, why);
      else out.push_back(n[i].Scalar());
    }
  }

 private:
  Ctx& ctx_;
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> keys_;
  bool valid_ = true;
};

const std::vector<std::string> kPoolKeys = {"name", "enable", "address", "max_connections", "fee_percentage",
                                            "rewards", "coin", "algorithm", "payout_address", "daemon",
                                            "tls_address", "tls_cert", "tls_key", "failover", "difficulty", "nicehash", "randomx_mode",
                                            "payouts"};

void read_pool(const Section& s, PoolConfig& p) {
  s.string("name", p.name);
  s.boolean("enable", p.enable);
  s.address("address", p.address);
  s.integer("max_connections", p.max_connections, 1, 1000000);
  s.number("fee_percentage", p.fee_percentage, 0, 100);
  if (p.fee_percentage >= 100) s.bad("fee_percentage", "a fee of 100% or more leaves nothing to pay miners");

  auto rewards = s.section("rewards", {"system", "window"});
  rewards.enumeration<RewardSystem>("system", p.reward_system,
                                    {{"PPLNS", RewardSystem::PPLNS}, {"PPS", RewardSystem::PPS},
                                     {"FPPS", RewardSystem::FPPS}, {"SOLO", RewardSystem::SOLO}});
  std::string w;
  if (rewards.scalar("window", w, "a duration or a number")) {
    if (auto d = parse_duration(w)) {
      if (*d < std::chrono::minutes(1) || *d > std::chrono::days(30))
        rewards.bad("window", "window " + w + " is out of range (expected 1m to 30d)");
      else
        p.reward_window = {*d, 0};
    } else {
      char* end = nullptr;
      double m = std::strtod(w.c_str(), &end);
      if (w.empty() || *end != '\0' || !(m > 0) || m > 1000)
        rewards.bad("window", "expected a duration such as 2h (PPLNT) or a multiple of the network difficulty "
                              "such as 2.0 (PPLNS), got '" + w + "'");
      else
        p.reward_window = {std::nullopt, m};
    }
  }

  s.choice("coin", p.coin, {"bitcoin", "litecoin", "monero"});
  std::string algo;
  s.choice("algorithm", algo, kAlgorithms);
  if (!algo.empty()) {
    std::string expected = coin_algorithm(p.coin);
    if (!expected.empty() && algo != expected)
      s.bad("algorithm", "coin '" + p.coin + "' mines with " + expected + ", not " + algo);
    p.algorithm = algo;
  }
  s.string("payout_address", p.payout_address);

  auto d = s.section("daemon", {"url", "user", "password", "cookie_file", "zmq"});
  std::string url;
  if (d.scalar("url", url, "a URL")) {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      d.bad("url", "expected an http:// URL such as http://127.0.0.1:19443, got '" + url + "'");
    else
      p.daemon.url = url;
  }
  d.string("user", p.daemon.user);
  d.string("password", p.daemon.password);
  d.string("cookie_file", p.daemon.cookie_file);
  d.string("zmq", p.daemon.zmq);
  if (!p.daemon.zmq.empty() && p.daemon.zmq.rfind("tcp://", 0) != 0)
    d.bad("zmq", "expected a tcp:// endpoint such as tcp://127.0.0.1:28332");
  if (!p.daemon.cookie_file.empty() && !p.daemon.user.empty())
    d.bad("cookie_file", "set either user/password or cookie_file, not both");

  if (s.has("tls_address")) {
    Address a;
    size_t before = s.ctx().errors->size();
    s.address("tls_address", a);
    if (s.ctx().errors->size() == before) p.tls_address = a;
  }
  s.string("tls_cert", p.tls_cert);
  s.string("tls_key", p.tls_key);
  if (p.tls_address && (p.tls_cert.empty() || p.tls_key.empty()))
    s.bad("tls_address", "stratum+ssl needs tls_cert and tls_key (PEM files)");
  std::vector<std::string> failover;
  s.list("failover", failover, [&](const std::string& item) -> std::string {
    std::string why;
    auto a = parse_address(item, &why);
    if (!a) return "expected another node's Stratum address host:port such as 10.0.0.2:3333, got '" + item + "': " + why;
    if (a->host == "0.0.0.0" || a->host == "::")
      return "'" + item + "' is a listen-on-all address; name the node miners should reconnect to";
    p.failover.push_back(*a);
    return "";
  });

  auto df = s.section("difficulty", {"initial", "min", "max", "target_share_time"});
  const double kMinDiff = std::ldexp(1.0, -32);
  df.number("initial", p.difficulty.initial, 0, 1e18, true);
  df.number("min", p.difficulty.min, 0, 1e18, true);
  df.number("max", p.difficulty.max, 0, 1e18, true);
  df.duration("target_share_time", p.difficulty.target_share_time, std::chrono::milliseconds(100), std::chrono::hours(1));
  if (p.difficulty.min < kMinDiff * (1 - 1e-9)) df.bad("min", "the smallest difficulty is 2^-32 (about 2.3283e-10)");
  if (p.difficulty.max < p.difficulty.min) df.bad("max", "max is below min");
  if (p.difficulty.initial < p.difficulty.min || p.difficulty.initial > p.difficulty.max)
    df.bad("initial", "initial must lie between min and max");
  s.boolean("nicehash", p.nicehash);
  s.choice("randomx_mode", p.randomx_mode, {"auto", "fast", "light"});
  if (s.has("randomx_mode") && !p.coin.empty() && p.coin != "monero")
    s.bad("randomx_mode", "only a RandomX pool (coin: monero) checks shares with RandomX");

  auto po = s.section("payouts", {"enabled", "interval", "minimum", "wallet", "wallet_url"});
  po.boolean("enabled", p.payouts.enabled);
  po.duration("interval", p.payouts.interval, std::chrono::seconds(1), std::chrono::days(30));
  po.number("minimum", p.payouts.minimum, 0, 21e6, true);
  po.string("wallet", p.payouts.wallet);
  if (p.payouts.wallet.find_first_of("/?#% ") != std::string::npos)
    po.bad("wallet", "a wallet name cannot contain '/', '?', '#', '%' or spaces");
  std::string wurl;
  if (po.scalar("wallet_url", wurl, "a URL")) {
    if (wurl.rfind("http://", 0) != 0)
      po.bad("wallet_url", "expected monero-wallet-rpc's http:// URL such as http://127.0.0.1:18083, got '" + wurl + "'");
    else if (!p.coin.empty() && p.coin != "monero")
      po.bad("wallet_url", "only Monero pays through a separate wallet RPC; Bitcoin-family pools use the daemon's "
                           "wallet (payouts.wallet)");
    else
      p.payouts.wallet_url = wurl;
  }
}

// Sets root[path...] = value (parsed as YAML, so 'true', '4h', '[a, b]' keep their types).
void apply_env(YAML::Node root, const std::vector<std::string>& path, const std::string& value) {
  YAML::Node cur = root;
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    YAML::Node next = chain.back()[path[i]];
    if (!next.IsMap()) {
      chain.back()[path[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[path[i]];
    }
    chain.push_back(next);
  }
  YAML::Node v;
  try {
    v = YAML::Load(value);
  } catch (const YAML::Exception&) {
    v = YAML::Node(value);
  }
  if (v.IsNull() && !value.empty()) v = YAML::Node(value);
  chain.back()[path.back()] = v;
}

}  // namespace

LoadResult load_string(const std::string& yaml, const std::string& source_name, const Environment& env) {
  LoadResult result;
  Ctx ctx{source_name, &result.errors, &result.warnings, {}};
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    ConfigError err;
    err.file = source_name;
    err.line = e.mark.line + 1;
    err.column = e.mark.column + 1;
    err.message = "YAML syntax error: " + e.msg;
    result.errors.push_back(err);
    return result;
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    result.errors.push_back({source_name, 1, 1, "", "expected a map of sections (app, mining, pool, api, ...)"});
    return result;
  }

  // Environment overrides: OTEDAMA_POOL__REWARDS__WINDOW=4h sets pool.rewards.window.
  for (const auto& [var, value] : env) {
    if (var.rfind("OTEDAMA_", 0) != 0) continue;
    std::string rest = var.substr(8);
    std::vector<std::string> path;
    size_t pos = 0;
    while (true) {
      size_t next = rest.find("__", pos);
      std::string seg = rest.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      std::transform(seg.begin(), seg.end(), seg.begin(), ::tolower);
      path.push_back(seg);
      if (next == std::string::npos) break;
      pos = next + 2;
    }
    if (path.size() < 2 || std::find(kSections.begin(), kSections.end(), path[0]) == kSections.end()) continue;
    std::string dotted = join(path, ".");
    ctx.env_paths[dotted] = var;
    apply_env(root, path, value);
  }

  Config c;
  c.source = source_name;
  Section top(ctx, root, "", kSections);

  auto app = top.section("app", {"name", "mode", "data_dir"});
  app.string("name", c.app.name);
  app.enumeration<Mode>("mode", c.app.mode, {{"development", Mode::development}, {"production", Mode::production}});
  app.string("data_dir", c.app.data_dir);
  if (c.app.data_dir.empty()) app.bad("data_dir", "must not be empty");

  auto lg = top.section("logging", {"level", "file", "max_size", "max_files"});
  lg.choice("level", c.logging.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  lg.string("file", c.logging.file);
  lg.size("max_size", c.logging.max_size, 4096, 1ull << 40);
  lg.integer("max_files", c.logging.max_files, 1, 1000);

  auto m = top.section("mining", {"algorithm", "enable_cpu", "enable_gpu", "enable_asic", "cpu", "gpu", "asic"});
  m.choice("algorithm", c.mining.algorithm, kAlgorithms);
  m.boolean("enable_cpu", c.mining.enable_cpu);
  m.boolean("enable_gpu", c.mining.enable_gpu);
  m.boolean("enable_asic", c.mining.enable_asic);
  auto cpu = m.section("cpu", {"threads", "priority"});
  cpu.integer("threads", c.mining.cpu.threads, 0, 4096);
  cpu.enumeration<Priority>("priority", c.mining.cpu.priority,
                            {{"idle", Priority::idle}, {"low", Priority::low}, {"normal", Priority::normal}, {"high", Priority::high}});
  auto gpu = m.section("gpu", {"devices", "intensity", "temperature_limit"});
  std::vector<std::string> gdev;
  gpu.list("devices", gdev, [](const std::string& s) -> std::string {
    if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), ::isdigit)) return "expected a GPU index (0, 1, ...)";
    return "";
  });
  c.mining.gpu.devices.clear();
  for (auto& s : gdev) c.mining.gpu.devices.push_back(std::stoi(s));
  gpu.integer("intensity", c.mining.gpu.intensity, 1, 31);
  gpu.integer("temperature_limit", c.mining.gpu.temperature_limit, 40, 110);
  auto asic = m.section("asic", {"devices", "poll_interval"});
  asic.list("devices", c.mining.asic.devices, [](const std::string& s) -> std::string {
    std::string why;
    return parse_address(s, &why) ? "" : "expected host:port of the ASIC's API (port 4028): " + why;
  });
  asic.duration("poll_interval", c.mining.asic.poll_interval, std::chrono::milliseconds(100), std::chrono::hours(1));

  // Pools: `pool:` (one) or `pools:` (a list of the same shape).
  if (top.has("pool") && top.has("pools")) {
    top.bad("pools", "use either pool: (one pool) or pools: (a list), not both");
  } else if (top.has("pools")) {
    YAML::Node list = top.get("pools");
    if (!list.IsSequence()) {
      top.bad("pools", "expected a list of pools, got " + kind_of(list));
    } else {
      for (size_t i = 0; i < list.size(); ++i) {
        PoolConfig p;
        read_pool(Section(ctx, list[i], "pools[" + std::to_string(i) + "]", kPoolKeys), p);
        c.pools.push_back(p);
      }
    }
  } else {
    PoolConfig p;
    read_pool(top.section("pool", kPoolKeys), p);
    c.pools.push_back(p);
  }
  std::set<std::string> names;
  for (size_t i = 0; i < c.pools.size(); ++i) {
    auto& p = c.pools[i];
    if (p.algorithm.empty()) p.algorithm = p.coin.empty() ? c.mining.algorithm : coin_algorithm(p.coin);
    if (p.name.empty()) p.name = p.coin.empty() ? (c.pools.size() == 1 ? "pool" : "pool" + std::to_string(i)) : p.coin;
    if (!names.insert(p.name).second)
      ctx.error(YAML::Node(), c.pools.size() == 1 ? "pool.name" : "pools[" + std::to_string(i) + "].name",
                "two pools are named '" + p.name + "'; give each a distinct name");
    if (p.enable && !p.daemon.configured())
      result.warnings.push_back("pool '" + p.name + "' is enabled but no coin daemon is configured (daemon.url): "
                                "the node starts and /ready reports the pool as not ready");
  }

  auto api = top.section("api", {"enable", "address", "auth", "rate_limit"});
  api.boolean("enable", c.api.enable);
  api.address("address", c.api.address);
  auto auth = api.section("auth", {"enabled", "token_expiry", "users", "users_file"});
  auth.boolean("enabled", c.api.auth.enabled);
  auth.duration("token_expiry", c.api.auth.token_expiry, std::chrono::minutes(1), std::chrono::days(365));
  auth.string("users_file", c.api.auth.users_file);
  if (auth.has("users")) {
    YAML::Node users = auth.get("users");
    if (!users.IsSequence()) {
      auth.bad("users", "expected a list of {name, password_hash, role}");
    } else {
      for (size_t i = 0; i < users.size(); ++i) {
        Section u(ctx, users[i], "api.auth.users[" + std::to_string(i) + "]", {"name", "password_hash", "role"});
        User user;
        u.string("name", user.name);
        u.string("password_hash", user.password_hash);
        u.choice("role", user.role, {"admin", "viewer"});
        if (user.name.empty()) u.bad("name", "each user needs a name");
        if (user.password_hash.empty() || user.password_hash[0] != '$')
          u.bad("password_hash", "expected a crypt-style hash ($argon2id$..., $2b$...), never a plain password");
        c.api.auth.users.push_back(user);
      }
    }
  }
  auto rl = api.section("rate_limit", {"enabled", "requests_per_second", "burst"});
  rl.boolean("enabled", c.api.rate_limit.enabled);
  rl.number("requests_per_second", c.api.rate_limit.requests_per_second, 0, 1e6, true);
  rl.integer("burst", c.api.rate_limit.burst, 1, 1000000);

  auto mon = top.section("monitoring", {"metrics", "health"});
  auto met = mon.section("metrics", {"enabled", "address"});
  met.boolean("enabled", c.monitoring.metrics.enabled);
  met.address("address", c.monitoring.metrics.address);
  auto hl = mon.section("health", {"enabled", "address"});
  hl.boolean("enabled", c.monitoring.health.enabled);
  hl.address("address", c.monitoring.health.address);

  auto st = top.section("storage", {"driver", "path", "dsn"});
  st.enumeration<StorageDriver>("driver", c.storage.driver, {{"sqlite", StorageDriver::sqlite}, {"postgres", StorageDriver::postgres}});
  st.string("path", c.storage.path);
  st.string("dsn", c.storage.dsn);
  if (c.storage.driver == StorageDriver::postgres && c.storage.dsn.empty())
    st.bad("dsn", "the postgres driver needs a dsn such as postgresql://user@127.0.0.1:5432/otedama");
  if (c.storage.path.empty()) c.storage.path = c.app.data_dir + "/otedama.db";

  auto p2p = top.section("p2p", {"enable", "address", "peers", "max_peers", "share_time", "network", "outbound_peers",
                                 "handshake_pow_bits", "ban_time", "federation"});
  p2p.boolean("enable", c.p2p.enable);
  p2p.address("address", c.p2p.address);
  p2p.list("peers", c.p2p.peers, [](const std::string& s) -> std::string {
    std::string why;
    return parse_address(s, &why) ? "" : "expected a peer host:port: " + why;
  });
  p2p.integer("max_peers", c.p2p.max_peers, 1, 1000);
  p2p.duration("share_time", c.p2p.share_time, std::chrono::seconds(1), std::chrono::minutes(10));
  p2p.string("network", c.p2p.network);
  p2p.integer("outbound_peers", c.p2p.outbound_peers, 0, 1000);
  if (c.p2p.outbound_peers > c.p2p.max_peers)
    p2p.bad("outbound_peers", "outbound_peers (" + std::to_string(c.p2p.outbound_peers) + ") is over max_peers (" +
                                  std::to_string(c.p2p.max_peers) + ")");
  p2p.integer("handshake_pow_bits", c.p2p.handshake_pow_bits, 0, 24);
  p2p.duration("ban_time", c.p2p.ban_time, std::chrono::seconds(1), std::chrono::days(30));

  auto fed = p2p.section("federation", {"enable", "key_file", "listen", "peers"});
  auto& f = c.p2p.federation;
  fed.boolean("enable", f.enable);
  fed.string("key_file", f.key_file);
  if (fed.has("listen")) {
    Address a;
    size_t before = ctx.errors->size();
    fed.address("listen", a);
    if (ctx.errors->size() == before) f.listen = a;
  }
  if (f.enable && f.key_file.empty())
    fed.bad("key_file", "federation needs this pool's ed25519 key (a PEM file; `openssl genpkey -algorithm ed25519`)");
  if (fed.has("peers")) {
    YAML::Node list = fed.get("peers");
    if (!list.IsSequence()) {
      fed.bad("peers", "expected a list of {name, address, public_key}");
    } else {
      std::set<std::string> names, keys;
      for (size_t i = 0; i < list.size(); ++i) {
        Section ps(ctx, list[i], "p2p.federation.peers[" + std::to_string(i) + "]", {"name", "address", "public_key"});
        Config::P2P::Federation::Peer peer;
        ps.string("name", peer.name);
        if (ps.has("address")) {
          Address a;
          size_t before = ctx.errors->size();
          ps.address("address", a);
          if (ctx.errors->size() == before) peer.address = a;
        }
        ps.string("public_key", peer.public_key);
        std::transform(peer.public_key.begin(), peer.public_key.end(), peer.public_key.begin(), ::tolower);
        if (peer.name.empty()) ps.bad("name", "each federation peer needs a name");
        else if (!names.insert(peer.name).second) ps.bad("name", "two federation peers are named '" + peer.name + "'");
        if (peer.public_key.size() != 64 ||
            peer.public_key.find_first_not_of("0123456789abcdef") != std::string::npos)
          ps.bad("public_key", "expected the pool's ed25519 public key as 64 hex digits");
        else if (!keys.insert(peer.public_key).second)
          ps.bad("public_key", "the same key is listed for two federation peers");
        f.peers.push_back(peer);
      }
    }
  }

  if (result.errors.empty()) result.config = std::move(c);
  return result;
}

LoadResult load_file(const std::string& path, const Environment& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back({path, 0, 0, "", "cannot read the file: " + std::string(std::strerror(errno))});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, env);
}

}  // namespace otedama::config
