// The Stratum v1 client (sha256d, scrypt): configure (version rolling when the pool offers
// it), subscribe, authorize; each search thread takes the current job with its own
// extranonce2 and submits what meets the share target. A new job bumps a generation counter
// that every worker checks between chunks.
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/crypto.h"
#include "miner/client.h"

namespace otedama::miner {

using json = nlohmann::json;

namespace {

uint32_t parse_u32_hex(const json& j, const char* what) {
  if (!j.is_string()) throw std::invalid_argument(std::string(what) + " is not a hex string");
  std::string s = j.get<std::string>();
  if (s.empty() || s.size() > 8 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    throw std::invalid_argument(std::string(what) + " is not 8 hex digits");
  return uint32_t(std::stoul(s, nullptr, 16));
}

std::string hex32(uint32_t v) {
  char b[9];
  snprintf(b, sizeof b, "%08x", v);
  return b;
}

// client.reconnect's params: [host, port, wait_seconds], each optional (ports and waits also
// as decimal strings, as some pools send them). Throws std::invalid_argument.
ReconnectRequest parse_reconnect(const json& params, const PoolUrl& current) {
  ReconnectRequest r;
  if (!params.is_array() && !params.is_null()) throw std::invalid_argument("params is not an array");
  auto number = [](const json& j, const char* what, uint64_t max) -> uint64_t {
    uint64_t v = 0;
    if (j.is_number_unsigned()) {
      v = j.get<uint64_t>();
    } else if (j.is_number_integer() && j.get<int64_t>() >= 0) {
      v = uint64_t(j.get<int64_t>());
    } else if (j.is_string() && !j.get<std::string>().empty() && j.get<std::string>().size() <= 10 &&
               j.get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
      v = std::stoull(j.get<std::string>());
    } else {
      throw std::invalid_argument(std::string(what) + " is not a non-negative integer: " + j.dump());
    }
    if (v > max) throw std::invalid_argument(std::string(what) + " " + std::to_string(v) + " is out of range");
    return v;
  };
  const json none;
  const json& host = params.is_array() && params.size() > 0 ? params[0] : none;
  const json& port = params.is_array() && params.size() > 1 ? params[1] : none;
  const json& wait = params.is_array() && params.size() > 2 ? params[2] : none;
  if (!wait.is_null()) r.wait = std::chrono::seconds(number(wait, "wait", 1u << 30));
  if (!host.is_null() && !host.is_string()) throw std::invalid_argument("host is not a string");
  std::string h = host.is_string() ? host.get<std::string>() : "";
  if (h.size() > 255 || h.find_first_of(" \t\r\n/") != std::string::npos)
    throw std::invalid_argument("host '" + h.substr(0, 64) + "' is not a host name or address");
  if (!h.empty() && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  uint64_t p = port.is_null() ? 0 : number(port, "port", 65535);
  if (!port.is_null() && p == 0) throw std::invalid_argument("port 0");
  if (h.empty() && p == 0) return r;  // the same pool
  r.target = PoolUrl{h.empty() ? current.host : h, p ? uint16_t(p) : current.port, current.tls};
  return r;
}

// Spreads the bits of k over the set bits of mask (lowest first), like PDEP.
uint32_t deposit_bits(uint32_t k, uint32_t mask) {
  uint32_t out = 0;
  for (uint32_t bit = 1; mask && k; bit <<= 1) {
    if (mask & bit) {
      if (k & 1) out |= bit;
      k >>= 1;
      mask &= ~bit;
    }
  }
  return out;
}

class StratumV1 final : public Protocol {
  struct Work;

 public:
  explicit StratumV1(MinerCore& core) : core_(core), cfg(core.cfg) {
    crypto::make_algorithm(cfg.algo);  // fail early on an unusable kernel
  }

  void on_connected() override {
    version_mask = 0;
    {
      std::lock_guard lock(pending_mutex);
      pending.clear();
    }
    send_line({{"id", 1}, {"method", "mining.configure"},
               {"params", {json::array({"version-rolling"}), {{"version-rolling.mask", "1fffe000"}, {"version-rolling.min-bit-count", 2}}}}});
    send_line({{"id", 2}, {"method", "mining.subscribe"}, {"params", {"otedama/" + std::string(version())}}});
    send_line({{"id", 3}, {"method", "mining.authorize"}, {"params", {cfg.user, cfg.password}}});
  }

  bool on_line(const std::string& line) override { return handle_line(line); }

  // A pool that leaves a share unanswered for response_timeout is as good as gone.
  bool on_tick() override {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(pending_mutex);
    for (const auto& [id, p] : pending)
      if (now - p.sent >= cfg.response_timeout) {
        set_error("the pool left a share unanswered for " + std::to_string(cfg.response_timeout.count()) + " ms");
        spdlog::warn("miner: {}: no answer to share {} of job {}", core_.pool(), id, p.job);
        return false;
      }
    return true;
  }

  bool probe(PoolLink& link, std::chrono::milliseconds timeout, const std::atomic<bool>& abort) override {
    if (!link.send_line(json{{"id", 2}, {"method", "mining.subscribe"}, {"params", {"otedama/" + std::string(version())}}}.dump()) ||
        !link.send_line(json{{"id", 3}, {"method", "mining.authorize"}, {"params", {cfg.user, cfg.password}}}.dump()))
      return false;
    bool subscribed = false, authorized = false, job = false, refused = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string error;
    auto on_line = [&](const std::string& line) {
      json m = json::parse(line, nullptr, false);
      if (!m.is_object()) return !(refused = true);
      if (m.contains("method")) {
        const json& method = m["method"];
        if (method == "mining.notify") job = true;
        if (method == "client.reconnect") refused = true;
        return !refused;
      }
      const json& id = m.contains("id") ? m["id"] : json();
      bool ok = (!m.contains("error") || m["error"].is_null()) && m.contains("result");
      if (id == 2) subscribed = ok && m["result"].is_array();
      if (id == 3) authorized = ok && m["result"] == true;
      if ((id == 2 && !subscribed) || (id == 3 && !authorized)) refused = true;
      return !refused;
    };
    while (!abort && !refused && std::chrono::steady_clock::now() < deadline) {
      if (!link.read_lines(std::chrono::milliseconds(200), cfg.max_line, on_line, error)) return false;
      if (subscribed && authorized && job) return true;
    }
    return false;
  }

  void on_disconnected() override { clear_work(); }

  void worker(unsigned) override {
    auto algo = crypto::make_algorithm(cfg.algo);
    const uint64_t chunk = cfg.algo == "sha256d" ? (1u << 20) : 256;
    std::vector<crypto::Found> found;
    while (!core_.stopping) {
      std::shared_ptr<const Work> w;
      {
        std::lock_guard lock(work_mutex);
        w = work;
      }
      if (!w) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      // A fresh extranonce2 for this thread; rolled versions extend it where the pool allows.
      uint64_t en2 = extranonce2_counter.fetch_add(1);
      Bytes extranonce2(w->extranonce2_size, 0);
      for (size_t i = 0; i < extranonce2.size() && i < 8; ++i) extranonce2[extranonce2.size() - 1 - i] = uint8_t(en2 >> (8 * i));
      unsigned rolls = w->version_mask ? 16 : 1;
      for (unsigned roll = 0; roll < rolls && generation.load() == w->generation && !core_.stopping; ++roll) {
        uint32_t version = (w->job.version & ~w->version_mask) | deposit_bits(roll, w->version_mask);
        auto header = build_header(w->job, w->extranonce1, extranonce2, version, w->job.ntime, 0);
        crypto::Work cw;
        cw.blob.assign(header.begin(), header.end());
        cw.nonce_offset = 76;
        cw.target = w->target;
        for (uint64_t first = 0; first <= 0xffffffffull; first += chunk) {
          if (generation.load() != w->generation || core_.stopping) break;
          uint64_t last = std::min<uint64_t>(first + chunk - 1, 0xffffffffull);
          core_.hashes.fetch_add(algo->search(cw, first, last, found, &core_.stopping));
          for (const auto& f : found) submit(*w, extranonce2, version, uint32_t(f.nonce));
          found.clear();
        }
      }
    }
  }

  void submit(const Work& w, const Bytes& extranonce2, uint32_t version, uint32_t nonce) {
    uint64_t id = next_id.fetch_add(1);
    json params = {cfg.user, w.job.id, to_hex(extranonce2), hex32(w.job.ntime), hex32(nonce)};
    if (w.version_mask) params.push_back(hex32(version & w.version_mask));
    {
      std::lock_guard lock(pending_mutex);
      pending[id] = {w.job.id, std::chrono::steady_clock::now()};
    }
    if (!send_line({{"id", id}, {"method", "mining.submit"}, {"params", params}})) {
      std::lock_guard lock(pending_mutex);
      pending.erase(id);
    }
  }

 private:
  MinerCore& core_;
  const MinerConfig& cfg;
  std::string extranonce1_hex;
  Bytes extranonce1;
  size_t extranonce2_size = 4;
  uint32_t version_mask = 0;
  double difficulty = 1;

  // Work shared with the workers.
  struct Work {
    StratumJob job;
    Bytes extranonce1;
    size_t extranonce2_size;
    uint32_t version_mask;
    U256 target;
    double difficulty;
    uint64_t generation;
  };
  std::mutex work_mutex;
  std::shared_ptr<const Work> work;
  std::atomic<uint64_t> generation{0};
  std::atomic<uint64_t> extranonce2_counter{0};

  std::mutex pending_mutex;
  struct Pending {
    std::string job;
    std::chrono::steady_clock::time_point sent;
  };
  std::map<uint64_t, Pending> pending;  // submit id -> what and when
  std::atomic<uint64_t> next_id{10};

  void set_error(const std::string& e) { core_.set_error(e); }
  bool send_line(const json& msg) { return core_.send(msg); }

  void publish_work(StratumJob job) {
    auto w = std::make_shared<Work>();
    w->job = std::move(job);
    w->extranonce1 = extranonce1;
    w->extranonce2_size = extranonce2_size;
    w->version_mask = version_mask;
    w->difficulty = difficulty;
    w->target = share_target(cfg.algo, difficulty);
    w->generation = generation.load() + 1;
    core_.difficulty = difficulty;
    std::lock_guard lock(work_mutex);
    work = std::move(w);
    generation.store(work->generation);
  }

  void clear_work() {
    std::lock_guard lock(work_mutex);
    work.reset();
    generation.fetch_add(1);
  }

  // Handles one line from the pool; false to drop the connection.
  bool handle_line(const std::string& line) {
    json msg;
    try {
      msg = json::parse(line);
    } catch (const std::exception& e) {
      set_error("pool sent malformed JSON: " + std::string(e.what()));
      return false;
    }
    if (!msg.is_object()) return false;
    if (msg.contains("method") && msg["method"].is_string()) {
      std::string method = msg["method"];
      const json& params = msg.value("params", json::array());
      try {
        if (method == "mining.notify") {
          if (!params.is_array() || params.size() < 9) throw std::invalid_argument("mining.notify needs 9 params");
          StratumJob job;
          job.id = params[0].get<std::string>();
          job.prevhash = stratum_prevhash_to_header(params[1].get<std::string>());
          job.coinb1 = from_hex(params[2].get<std::string>());
          job.coinb2 = from_hex(params[3].get<std::string>());
          for (const auto& b : params[4]) job.merkle_branch.push_back(hash_from_hex(b.get<std::string>()));
          job.version = parse_u32_hex(params[5], "version");
          job.nbits = parse_u32_hex(params[6], "nbits");
          job.ntime = parse_u32_hex(params[7], "ntime");
          job.clean = params[8].is_boolean() && params[8].get<bool>();
          core_.jobs.fetch_add(1);
          publish_work(std::move(job));
        } else if (method == "mining.set_difficulty") {
          double d = params.at(0).get<double>();
          if (!(d > 0)) throw std::invalid_argument("difficulty must be positive");
          difficulty = d;  // applies from the next job, as the protocol says
          core_.difficulty = d;
        } else if (method == "mining.set_extranonce") {
          extranonce1 = from_hex(params.at(0).get<std::string>());
          extranonce2_size = params.at(1).get<size_t>();
        } else if (method == "mining.set_version_mask") {
          version_mask = parse_u32_hex(params.at(0), "version mask");
        } else if (method == "client.reconnect") {
          core_.request_reconnect(parse_reconnect(params, core_.current_url()));
          return false;
        } else if (method == "mining.ping") {
          send_line({{"id", msg["id"]}, {"result", "pong"}, {"error", nullptr}});
        } else if (method == "client.get_version") {
          send_line({{"id", msg["id"]}, {"result", "otedama/" + std::string(version())}, {"error", nullptr}});
        } else if (method == "client.show_message") {
          spdlog::info("miner: pool says: {}", params.dump());
        }
      } catch (const std::exception& e) {
        set_error("bad " + method + " from pool: " + e.what());
        spdlog::warn("miner: bad {} from {}: {}", method, core_.pool(), e.what());
      }
      return true;
    }
    // A reply.
    uint64_t id = msg.contains("id") && msg["id"].is_number_unsigned() ? msg["id"].get<uint64_t>() : 0;
    const json& error = msg.contains("error") ? msg["error"] : json();
    const json& result = msg.contains("result") ? msg["result"] : json();
    if (id == 1) {  // configure
      if (error.is_null() && result.is_object() && result.value("version-rolling", false))
        version_mask = uint32_t(std::stoul(result.value("version-rolling.mask", "0"), nullptr, 16));
    } else if (id == 2) {  // subscribe
      if (!error.is_null() || !result.is_array() || result.size() < 3) {
        set_error("subscribe refused: " + msg.dump());
        return false;
      }
      extranonce1_hex = result[1].get<std::string>();
      extranonce1 = from_hex(extranonce1_hex);
      extranonce2_size = result[2].get<size_t>();
      if (extranonce2_size == 0 || extranonce2_size > 16) {
        set_error("pool offers an unusable extranonce2 size");
        return false;
      }
    } else if (id == 3) {  // authorize
      if (!error.is_null() || !result.is_boolean() || !result.get<bool>()) {
        set_error("authorization refused: " + (error.is_null() ? std::string("false") : error.dump()));
        spdlog::error("miner: {} refused worker {}: {}", core_.pool(), cfg.user, error.dump());
        return false;
      }
    } else if (id >= 10) {
      {
        std::lock_guard lock(pending_mutex);
        pending.erase(id);
      }
      if (error.is_null() && result.is_boolean() && result.get<bool>()) {
        core_.accepted.fetch_add(1);
      } else {
        core_.rejected.fetch_add(1);
        std::string why = error.is_array() && error.size() > 1 ? error[1].dump() : error.dump();
        set_error("share rejected: " + why);
        spdlog::warn("miner: share rejected: {}", why);
      }
    }
    return true;
  }

};

}  // namespace

std::unique_ptr<Protocol> make_stratum_v1(MinerCore& core) { return std::make_unique<StratumV1>(core); }

}  // namespace otedama::miner
