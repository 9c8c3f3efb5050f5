// fake_bitcoind: a stand-in Bitcoin Core JSON-RPC daemon for the Stratum load benchmark ONLY
// (scripts/bench-stratum.sh). It is never used by a correctness test.
//
// No bitcoind runs on this machine, and scrypt (litecoind's PoW) is too costly per share for the
// shares/s figure, so the benchmark points a sha256d pool at this program. It serves one fixed,
// mainnet-like getblocktemplate answer read from a file (bench/data/bitcoin_gbt_mainnet_like.json,
// built by bench/data/make_bitcoin_gbt.py; bits 0x17034219 so that no share is a block) and
// answers just what the pool asks: getblockchaininfo ("main"), getblocktemplate, getbestblockhash
// (constant: the template's previousblockhash, so the pool never sees a new tip), submitblock
// (counted, answered "rejected": the template's transactions are synthetic) and validateaddress.
//
// HTTP/1.1 keep-alive, Basic auth (--user/--password; 401 otherwise), one thread per connection,
// loopback only. Bounded: it exits by itself after --max-seconds, and on SIGTERM/SIGINT, printing
// how many calls of each method it answered.
//
//   fake_bitcoind --port P --template FILE [--user U --password P] [--max-seconds S]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using json = nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::string base64(const std::string& in) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (size_t rest = in.size() - i) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out.push_back(t[(v >> 18) & 63]);
    out.push_back(t[(v >> 12) & 63]);
    out.push_back(rest == 2 ? t[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

struct Daemon {
  json tpl;
  std::string tpl_dump, best_hash, expected_auth;
  std::mutex count_mutex;
  std::map<std::string, uint64_t> calls;

  void count(const std::string& method) {
    std::lock_guard lock(count_mutex);
    ++calls[method];
  }

  // The JSON-RPC "result" (already serialized) or an error object, for one request.
  std::string answer(const json& req) {
    json id = req.contains("id") ? req["id"] : json();
    std::string method = req.value("method", std::string());
    count(method.empty() ? "(none)" : method);
    std::string result;
    std::string error = "null";
    if (method == "getblocktemplate") {
      result = tpl_dump;
    } else if (method == "getbestblockhash") {
      result = json(best_hash).dump();
    } else if (method == "getblockchaininfo") {
      result = json{{"chain", "main"},
                    {"blocks", tpl["height"].get<uint64_t>() - 1},
                    {"headers", tpl["height"].get<uint64_t>() - 1},
                    {"bestblockhash", best_hash},
                    {"difficulty", 83148355189239.77},
                    {"initialblockdownload", false},
                    {"verificationprogress", 0.9999991},
                    {"warnings", ""}}
                   .dump();
    } else if (method == "getblockcount") {
      result = std::to_string(tpl["height"].get<uint64_t>() - 1);
    } else if (method == "submitblock") {
      result = "\"rejected\"";  // the synthetic transactions would never validate
    } else if (method == "validateaddress") {
      const json& p = req.value("params", json::array());
      std::string a = p.is_array() && !p.empty() && p[0].is_string() ? p[0].get<std::string>() : "";
      result = json{{"isvalid", !a.empty()}, {"address", a}}.dump();
    } else {
      result = "null";
      error = json{{"code", -32601}, {"message", "Method not found"}}.dump();
    }
    return "{\"result\":" + result + ",\"error\":" + error + ",\"id\":" + id.dump() + "}";
  }

  static bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }

  static std::string response(int status, const std::string& reason, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // One keep-alive connection: requests until the peer closes, an error, or the stop flag.
  void serve(int fd) {
    std::string buf;
    char chunk[65536];
    for (int requests = 0; requests < 100000000 && !g_stop; ++requests) {
      size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (buf.size() > (1u << 20)) return void(::close(fd));
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 200);
        if (g_stop) return void(::close(fd));
        if (r <= 0) continue;
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return void(::close(fd));
        buf.append(chunk, size_t(n));
      }
      std::string head = buf.substr(0, header_end);
      std::string lower = head;
      for (auto& c : lower) c = char(std::tolower((unsigned char)c));
      size_t length = 0;
      if (auto p = lower.find("content-length:"); p != std::string::npos) length = std::strtoul(head.c_str() + p + 15, nullptr, 10);
      if (length > (64u << 20)) return void(::close(fd));
      while (buf.size() < header_end + 4 + length) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return void(::close(fd));
        buf.append(chunk, size_t(n));
      }
      std::string body = buf.substr(header_end + 4, length);
      buf.erase(0, header_end + 4 + length);

      std::string auth;
      if (auto p = lower.find("\r\nauthorization:"); p != std::string::npos) {
        size_t s = p + 16, e = head.find("\r\n", s);
        auth = head.substr(s, e == std::string::npos ? std::string::npos : e - s);
        while (!auth.empty() && auth.front() == ' ') auth.erase(0, 1);
      }
      std::string out;
      if (auth != expected_auth) {
        count("(unauthorized)");
        out = response(401, "Unauthorized", "");
      } else {
        json req = json::parse(body, nullptr, false);
        if (req.is_discarded() || !req.is_object())
          out = response(500, "Internal Server Error",
                         R"({"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null})");
        else
          out = response(200, "OK", answer(req));
      }
      if (!send_all(fd, out)) return void(::close(fd));
    }
    ::close(fd);
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string tpl_path, user = "user", password = "password";
  double max_seconds = 600;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "fake_bitcoind: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") port = std::atoi(next().c_str());
    else if (a == "--template") tpl_path = next();
    else if (a == "--user") user = next();
    else if (a == "--password") password = next();
    else if (a == "--max-seconds") max_seconds = std::atof(next().c_str());
    else {
      std::fprintf(stderr, "usage: fake_bitcoind --port P --template FILE [--user U] [--password P] [--max-seconds S]\n");
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || tpl_path.empty()) {
    std::fprintf(stderr, "fake_bitcoind: --port and --template are required\n");
    return 2;
  }
  Daemon d;
  {
    std::ifstream in(tpl_path);
    std::stringstream ss;
    ss << in.rdbuf();
    d.tpl = json::parse(ss.str(), nullptr, false);
    if (!in || d.tpl.is_discarded() || !d.tpl.is_object() || !d.tpl.contains("previousblockhash")) {
      std::fprintf(stderr, "fake_bitcoind: %s is not a getblocktemplate answer\n", tpl_path.c_str());
      return 2;
    }
  }
  d.tpl_dump = d.tpl.dump();
  d.best_hash = d.tpl["previousblockhash"].get<std::string>();
  d.expected_auth = "Basic " + base64(user + ":" + password);

  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  if (::bind(ls, (sockaddr*)&addr, sizeof addr) != 0 || ::listen(ls, 64) != 0) {
    std::fprintf(stderr, "fake_bitcoind: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "fake_bitcoind: 127.0.0.1:%d, height %llu, %zu transactions (benchmark stand-in)\n", port,
               (unsigned long long)d.tpl["height"].get<uint64_t>(), d.tpl["transactions"].size());

  std::vector<std::thread> threads;
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(max_seconds);
  while (!g_stop && std::chrono::steady_clock::now() < end && threads.size() < 1000) {
    pollfd p{ls, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    threads.emplace_back([&d, fd] { d.serve(fd); });
  }
  g_stop = true;
  ::close(ls);
  for (auto& t : threads) t.join();
  std::lock_guard lock(d.count_mutex);
  std::fprintf(stderr, "fake_bitcoind: stopping; calls:");
  for (const auto& [m, n] : d.calls) std::fprintf(stderr, " %s=%llu", m.c_str(), (unsigned long long)n);
  std::fprintf(stderr, "\n");
  return 0;
}
