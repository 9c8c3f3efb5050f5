// Test network for the P2P pool: three `otedama serve` nodes on 127.0.0.1, each with its own
// litecoind regtest pair (the pairs peered over loopback: one coin chain) and its own
// `otedama mine` (its node first, the others as fail-over URLs) paying a different address, on a
// test share chain (1 s shares, one share in 4 a block). Shared by the e2e and heavy tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "http/http.h"
#include "p2p/p2p.h"
#include "support/litecoind.h"
#include "support/support.h"

namespace otedama::test::p2pnet {

using json = nlohmann::json;


const std::string kBin = OTEDAMA_BIN;
constexpr int kNodes = 3;
const std::string kNetwork = "regtest-e2e";

struct NodeSetup {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  uint16_t stratum = free_port(), api = free_port(), metrics = free_port(), health = free_port(), p2p = free_port();
  std::string payout;
  std::string config_path;
  std::unique_ptr<Process> node, miner;
};

inline std::string url(uint16_t port, const std::string& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

inline std::optional<json> get_json(uint16_t port, const std::string& path) {
  try {
    auto r = http::get(url(port, path), std::chrono::seconds(3));
    if (r.status != 200) return std::nullopt;
    return json::parse(r.body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

inline int post(uint16_t port, const std::string& path, const std::string& body, const std::string& method = "POST") {
  try {
    return int(http::request(method, url(port, path), body, {{"content-type", "application/json"}}, std::chrono::seconds(3))
                   .status);
  } catch (const std::exception&) {
    return -1;
  }
}

// The payout outputs of a share, recomputed from the share chain as the API lists it (the
// rules of docs/p2p.md, written out again here rather than calling the node's code).
inline std::vector<std::pair<std::string, int64_t>> expected_outputs(const std::map<std::string, json>& by_hash,
                                                              const json& share, size_t window, int64_t min_output) {
  std::map<std::string, unsigned __int128> weight;  // script hex -> work
  const json* s = &share;
  for (size_t n = 0; n < window && s; ++n) {
    auto work = p2p::work_from_target(U256::from_compact(s->at("bits").get<uint32_t>()));
    weight[s->at("payout_script").get<std::string>()] += work;
    auto it = by_hash.find(s->at("prev").get<std::string>());
    s = it == by_hash.end() ? nullptr : &it->second;
    if (!s && n + 1 < window && share.at("height").get<uint64_t>() >= window)
      throw std::runtime_error("the share list does not reach back a whole window");
  }
  const int64_t reward = share.at("reward").get<int64_t>();
  std::map<std::string, int64_t> amount;
  while (!weight.empty()) {
    unsigned __int128 total = 0;
    for (auto& [k, w] : weight) total += w;
    amount.clear();
    bool dropped = false;
    for (auto it = weight.begin(); it != weight.end();) {
      int64_t a = int64_t((unsigned __int128)reward * it->second / total);
      if (a < min_output || a == 0) {
        it = weight.erase(it);
        dropped = true;
      } else {
        amount[it->first] = a;
        ++it;
      }
    }
    if (!dropped) break;
  }
  std::vector<std::pair<std::string, int64_t>> out;
  if (weight.empty()) {
    out.push_back({share.at("payout_script").get<std::string>(), reward});
    return out;
  }
  std::string top;
  unsigned __int128 top_w = 0;
  int64_t given = 0;
  for (auto& [k, w] : weight) {
    if (w > top_w) top = k, top_w = w;  // map order: ties keep the smallest script
    given += amount[k];
  }
  amount[top] += reward - given;
  for (auto& [k, a] : amount) out.push_back({k, a});
  return out;
}

class P2pNetwork : public ::testing::Test {
 protected:
  static inline std::vector<std::unique_ptr<Litecoind>> daemons;
  static inline std::vector<NodeSetup> nodes;

  static void SetUpTestSuite() {
    for (int i = 0; i < kNodes; ++i) {
      LitecoindOptions o;
      o.mweb = false;
      daemons.push_back(std::make_unique<Litecoind>(o));
    }
    // One coin chain: helper B of each pair dials the next pair's helper.
    for (int i = 0; i + 1 < kNodes; ++i)
      daemons[i]->cli_b({"addnode", "127.0.0.1:" + std::to_string(daemons[i + 1]->helper_p2p_port()), "onetry"});
    nodes.resize(kNodes);
    for (int i = 0; i < kNodes; ++i) {
      daemons[i]->cli({"createwallet", "w"});
      nodes[i].payout = daemons[i]->cli({"getnewaddress", "", "bech32"});
    }
    // Leave initial block download (getblocktemplate refuses before the first block): one block,
    // handed to every daemon (nodes in initial download are slow to fetch it from inbound peers).
    daemons[0]->cli({"generatetoaddress", "1", nodes[0].payout});
    std::string raw = daemons[0]->cli({"getblock", daemons[0]->cli({"getbestblockhash"}), "0"});
    for (int i = 0; i < kNodes; ++i) {
      daemons[i]->cli_b({"submitblock", raw});
      if (i) daemons[i]->cli({"submitblock", raw});
    }
    for (int i = 1; i < kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return daemons[i]->cli({"getblockcount"}) == "1"; }, std::chrono::seconds(30)))
          << "daemon " << i << " did not follow the shared coin chain";
    for (int i = 0; i < kNodes; ++i) write_config(i);
    for (int i = 0; i < kNodes; ++i) start_node(i);
    for (int i = 0; i < kNodes; ++i) start_miner(i);
  }

  static void TearDownTestSuite() {
    for (auto& n : nodes) {
      n.miner.reset();
      n.node.reset();
    }
    nodes.clear();
    daemons.clear();
  }

  static void write_config(int i) {
    auto& n = nodes[i];
    std::string peers;
    for (int j = 0; j < i; ++j) peers += std::string(j ? ", " : "") + "\"127.0.0.1:" + std::to_string(nodes[j].p2p) + "\"";
    std::string cfg =
        "app: {name: \"p2p" + std::to_string(i) + "\", mode: development, data_dir: \"" +
        (n.dir->path() / "data").string() + "\"}\n"
        "logging: {level: info}\n"
        "mining: {enable_cpu: false}\n"
        "pool:\n"
        "  coin: litecoin\n"
        "  address: \"127.0.0.1:" + std::to_string(n.stratum) + "\"\n"
        "  payout_address: \"" + n.payout + "\"\n"
        "  daemon: {url: \"" + daemons[i]->rpc_url() + "\", cookie_file: \"" + daemons[i]->cookie_path() + "\"}\n"
        "  difficulty: {initial: 0.004, min: 0.0001, target_share_time: 1s}\n"
        "api:\n"
        "  address: \"127.0.0.1:" + std::to_string(n.api) + "\"\n"
        "  auth: {enabled: false}\n"
        "  rate_limit: {enabled: false}\n"
        "monitoring:\n"
        "  metrics: {address: \"127.0.0.1:" + std::to_string(n.metrics) + "\"}\n"
        "  health: {address: \"127.0.0.1:" + std::to_string(n.health) + "\"}\n"
        "p2p:\n"
        "  enable: true\n"
        "  address: \"127.0.0.1:" + std::to_string(n.p2p) + "\"\n"
        "  peers: [" + peers + "]\n"
        "  share_time: 1s\n"
        "  handshake_pow_bits: 12\n"
        "  network: \"" + kNetwork + "\"\n";
    n.config_path = n.dir->file("node.yaml", cfg);
  }

  static void start_node(int i) {
    auto& n = nodes[i];
    n.node = std::make_unique<Process>(std::vector<std::string>{kBin, "serve", "--config", n.config_path}, n.dir->path());
    ASSERT_TRUE(eventually([&] { return get_json(n.api, "/api/p2p").has_value(); }, std::chrono::seconds(30)))
        << "node " << i << " did not start: " << n.node->err();
  }

  static void start_miner(int i) {
    auto& n = nodes[i];
    std::vector<std::string> argv = {kBin, "mine"};
    for (int k = 0; k < kNodes; ++k) {  // its own node first, then the others for fail-over
      argv.push_back("--url");
      argv.push_back("stratum+tcp://127.0.0.1:" + std::to_string(nodes[(i + k) % kNodes].stratum));
    }
    for (std::string a : std::vector<std::string>{"--user", n.payout + ".m", "--algo", "scrypt", "--threads", "1", "--report", "1"})
      argv.push_back(a);
    n.miner = std::make_unique<Process>(argv, n.dir->path());
  }

  static json status(int i) { return get_json(nodes[i].api, "/api/p2p").value_or(json::object()); }

  static std::string node_id(int i) {
    std::ifstream in(nodes[i].dir->path() / "data" / ("p2p-" + kNetwork) / "node_id");
    std::string id;
    in >> id;
    return id;
  }

  // All running nodes report the same tip (sampled back to back).
  static bool converged(const std::vector<int>& which) {
    std::string tip;
    for (int i : which) {
      auto s = status(i);
      if (!s.contains("tip") || s["tip"].get<std::string>().empty()) return false;
      if (tip.empty()) tip = s["tip"];
      else if (s["tip"] != tip) return false;
    }
    return true;
  }

  struct BlockCheck {
    int in_chain = 0, orphaned = 0, checked_outputs = 0;
  };
  // Every block share of node i's chain: in litecoind's best chain its coinbase pays exactly
  // the recomputed split; off it, it is counted as orphaned by the coin.
  static BlockCheck check_blocks(int i) {
    BlockCheck r;
    auto st = status(i);
    size_t window = st.at("window_size").get<size_t>();
    auto list = get_json(nodes[i].api, "/api/p2p/shares?limit=100000").value().at("shares");
    std::map<std::string, json> by_hash;
    for (auto& s : list) by_hash[s["hash"].get<std::string>()] = s;
    for (auto& s : list) {
      if (!s["block"].get<bool>()) continue;
      std::string hash = s["hash"];
      json block;
      try {
        block = json::parse(daemons[i]->cli({"getblock", hash, "2"}));
      } catch (const std::exception&) {
        ++r.orphaned;  // never reached this daemon's chain view
        continue;
      }
      if (block["confirmations"].get<int64_t>() < 1) {
        ++r.orphaned;
        continue;
      }
      ++r.in_chain;
      std::vector<std::pair<std::string, int64_t>> paid;
      for (auto& o : block["tx"][0]["vout"]) {
        std::string script = o["scriptPubKey"]["hex"];
        int64_t atoms = std::llround(o["value"].get<double>() * 1e8);
        if (script.rfind("6a", 0) == 0 && atoms == 0) continue;  // commitments
        paid.push_back({script, atoms});
      }
      auto want = expected_outputs(by_hash, s, window, 1000);
      EXPECT_EQ(paid, want) << "block " << hash << " at share height " << s["height"];
      int64_t total = 0;
      for (auto& [k, v] : paid) total += v;
      EXPECT_EQ(total, s["reward"].get<int64_t>());
      r.checked_outputs += int(paid.size());
    }
    return r;
  }

  static int64_t blocks_found(int i) { return status(i).value("blocks_found", int64_t(0)); }
  static uint64_t height(int i) { return status(i).value("height", uint64_t(0)); }
};

}  // namespace otedama::test::p2pnet
