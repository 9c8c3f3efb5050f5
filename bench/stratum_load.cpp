// stratum_load: a Stratum v1 load generator (the figures of docs/perf-stratum.md).
//
// One process opens N connections to a Stratum server, subscribes and authorizes each as
// ADDRESS.wI+DIFF (a fixed difficulty near 2^-32, so that nearly every nonce meets the share
// target and the generator hashes nothing), waits for every first job, and reports the
// server's resident memory before and with the N idle connections. Then, on M of the N
// connections (the others stay idle, held), it submits shares at each rate of a sweep
// (open loop: a share is sent when the schedule says so, not when the previous one returned),
// each with its own extranonce2 and nonce so that no share is a duplicate, and reports per
// rate: accepted and rejected shares/s, p50/p99/max submit-to-reply latency (per-request
// timestamps), the server's RSS and CPU time, and the generator's own CPU time.
//
// Epoll, one thread per --threads (connections split between them). Bounded: every phase has
// a time limit, the whole run a deadline; it stops by itself.
//
//   stratum_load --port P --address ADDR [--connections N] [--submitters M]
//                [--rates 5000,10000,20000,30000] [--phase-seconds 15] [--pid SERVER_PID] ...
//   (--help lists all options)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string address = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
  std::string diff = "0.0000000002328306436538696";  // 2^-32
  int connections = 1000;
  int submitters = 1000;
  std::vector<double> rates = {5000, 10000, 20000, 30000};
  double phase_seconds = 15;
  double drain_seconds = 2;    // after each phase: no sends, replies still counted
  double idle_seconds = 3;     // settle time before the idle RSS reading
  double connect_timeout = 120;
  int threads = 1;
  int connect_window = 256;    // handshakes in flight per thread
  int max_outstanding = 512;   // unanswered shares per connection before it skips its turn
  int pid = 0;                 // server process for VmRSS / CPU readings (0: none)
  std::string json_out;
  double timeline = 0;         // > 0: print the worst latency per window of this many seconds
};

// ---- server readings (/proc) ---------------------------------------------------------------

long rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream fields(s.substr(rp + 2));
  std::string f;
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) ut = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) st = std::strtoull(f.c_str(), nullptr, 10);
  }
  return double(ut + st) / double(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// ---- shared run state --------------------------------------------------------------------------

enum Stage : int { kConnect = 0, kIdle = 1, kSweep = 2, kDone = 3 };

struct Shared {
  std::atomic<int> stage{kConnect};
  std::atomic<int> ready{0}, failed{0};
  std::atomic<int64_t> sweep_start_ns{0};
  int64_t deadline_ns = 0;
};

struct PhaseStats {
  uint64_t sent = 0, accepted = 0, rejected = 0, skipped = 0;
  std::vector<uint32_t> latency_us;  // accepted and rejected replies alike
  std::vector<uint32_t> sent_ms;     // for each latency: when its share was sent, ms into the sweep
};

struct Pending {
  uint64_t id;
  int64_t sent_ns;
  int phase;
};

struct Conn {
  int fd = -1;
  int index = 0;
  enum { kConnecting, kHandshake, kReady, kDead } state = kConnecting;
  bool submitter = false, authorized = false, have_job = false, want_out = false;
  std::string worker;
  std::string rbuf, wbuf;
  std::string job_id;
  uint32_t ntime = 0;
  int en2_size = 8;
  uint64_t en2 = 0;
  uint64_t next_id = 3;  // 1: subscribe, 2: authorize
  std::deque<Pending> pending;
};

struct ThreadState {
  int id = 0;
  std::vector<Conn> conns;
  std::vector<int> submitters;  // indexes into conns
  std::vector<PhaseStats> phases;
  std::vector<std::string> reject_samples;
  uint64_t notifies = 0, unexpected = 0;
};

bool parse_hex32(std::string_view s, uint32_t& out) {
  if (s.size() != 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | uint32_t(d);
  }
  out = v;
  return true;
}

class Worker {
 public:
  Worker(const Options& o, Shared& s, ThreadState& t) : opt_(o), sh_(s), ts_(t) {}

  void run() {
    ep_ = epoll_create1(0);
    if (ep_ < 0) {
      std::perror("epoll_create1");
      return;
    }
    size_t next_connect = 0;
    int handshaking = 0;
    double share_of_rate = opt_.submitters > 0 ? double(ts_.submitters.size()) / opt_.submitters : 0;
    int current_phase = -1;
    int64_t phase_start = 0;
    uint64_t phase_sent_sched = 0;
    size_t cursor = 0;
    const int64_t phase_ns = int64_t(opt_.phase_seconds * 1e9), drain_ns = int64_t(opt_.drain_seconds * 1e9);
    std::vector<int> dirty;
    epoll_event events[512];

    while (now_ns() < sh_.deadline_ns) {
      int stage = sh_.stage.load(std::memory_order_acquire);
      if (stage == kDone) break;
      // Open connections, a window at a time (the listen backlog is finite).
      if (stage == kConnect) {
        while (handshaking < opt_.connect_window && next_connect < ts_.conns.size()) {
          if (start_connect(ts_.conns[next_connect])) ++handshaking;
          ++next_connect;
        }
      }
      // Send the shares the schedule says are due by now.
      if (stage == kSweep && !ts_.submitters.empty()) {
        int64_t t = now_ns(), t0 = sh_.sweep_start_ns.load();
        int phase = -1;
        int64_t in_phase = 0;
        if (t >= t0) {
          int64_t k = (t - t0) / (phase_ns + drain_ns);
          in_phase = (t - t0) % (phase_ns + drain_ns);
          if (k < int64_t(opt_.rates.size()) && in_phase < phase_ns) phase = int(k);
        }
        if (phase != current_phase) {
          current_phase = phase;
          phase_start = t - in_phase;
          phase_sent_sched = 0;
        }
        if (phase >= 0) {
          double rate = opt_.rates[size_t(phase)] * share_of_rate;
          uint64_t due = uint64_t(rate * double(t - phase_start) / 1e9);
          auto& ps = ts_.phases[size_t(phase)];
          for (; phase_sent_sched < due; ++phase_sent_sched) {
            Conn& c = ts_.conns[size_t(ts_.submitters[cursor])];
            cursor = (cursor + 1) % ts_.submitters.size();
            if (c.state != Conn::kReady || c.pending.size() >= size_t(opt_.max_outstanding)) {
              ++ps.skipped;
              continue;
            }
            if (c.wbuf.empty()) dirty.push_back(c.index);
            append_submit(c, t, phase);
            ++ps.sent;
          }
          for (int i : dirty) flush(ts_.conns[size_t(i)]);
          dirty.clear();
        }
      }
      int n = epoll_wait(ep_, events, 512, 1);
      for (int i = 0; i < n; ++i) {
        Conn& c = ts_.conns[events[i].data.u32];
        bool was_handshaking = c.state == Conn::kConnecting || c.state == Conn::kHandshake;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          fail(c, "connection error or hang-up");
        } else {
          if ((events[i].events & EPOLLOUT)) on_writable(c);
          if ((events[i].events & EPOLLIN) && c.state != Conn::kDead) on_readable(c);
        }
        if (was_handshaking && (c.state == Conn::kReady || c.state == Conn::kDead)) --handshaking;
      }
    }
    // RST instead of FIN: no TIME_WAIT left behind to eat the loopback's ephemeral ports.
    for (auto& c : ts_.conns)
      if (c.fd >= 0) {
        linger l{1, 0};
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(c.fd);
      }
    ::close(ep_);
  }

 private:
  const Options& opt_;
  Shared& sh_;
  ThreadState& ts_;
  int ep_ = -1;

  bool start_connect(Conn& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c.fd < 0) return fail(c, std::string("socket: ") + std::strerror(errno)), false;
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(opt_.port));
    inet_pton(AF_INET, opt_.host.c_str(), &a.sin_addr);
    if (::connect(c.fd, (sockaddr*)&a, sizeof a) != 0 && errno != EINPROGRESS)
      return fail(c, std::string("connect: ") + std::strerror(errno)), false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = uint32_t(c.index);
    c.want_out = true;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) return fail(c, "epoll_ctl"), false;
    c.state = Conn::kConnecting;
    return true;
  }

  void set_out(Conn& c, bool on) {
    if (c.want_out == on || c.fd < 0) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? uint32_t(EPOLLOUT) : 0u);
    ev.data.u32 = uint32_t(c.index);
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void fail(Conn& c, const std::string& why) {
    if (c.state == Conn::kDead) return;
    bool counted_ready = c.state == Conn::kReady;
    c.state = Conn::kDead;
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      c.fd = -1;
    }
    if (counted_ready) sh_.ready.fetch_sub(1);
    int f = sh_.failed.fetch_add(1);
    if (f < 5) std::fprintf(stderr, "stratum_load: connection %d: %s\n", c.index, why.c_str());
  }

  void on_writable(Conn& c) {
    if (c.state == Conn::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) return fail(c, std::string("connect: ") + std::strerror(err));
      c.state = Conn::kHandshake;
      c.wbuf = "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"stratum_load/1.0\"]}\n"
               "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"" + c.worker + "\",\"x\"]}\n";
    }
    flush(c);
  }

  void flush(Conn& c) {
    while (!c.wbuf.empty()) {
      ssize_t n = ::send(c.fd, c.wbuf.data(), c.wbuf.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return fail(c, std::string("send: ") + std::strerror(errno));
      }
      c.wbuf.erase(0, size_t(n));
    }
    set_out(c, !c.wbuf.empty());
  }

  void append_submit(Conn& c, int64_t t, int phase) {
    uint64_t id = c.next_id++;
    uint64_t en2 = c.en2++;
    if (c.en2_size < 8) en2 &= (1ull << (8 * c.en2_size)) - 1;
    char line[512];
    // Distinct extranonce2 per share on this connection (the extranonce1 differs between
    // connections), and a nonce that varies too: no two shares are duplicates.
    int n = std::snprintf(line, sizeof line,
                          "{\"id\":%" PRIu64 ",\"method\":\"mining.submit\",\"params\":[\"%s\",\"%s\",\"%0*" PRIx64
                          "\",\"%08x\",\"%08x\"]}\n",
                          id, c.worker.c_str(), c.job_id.c_str(), c.en2_size * 2, en2, c.ntime,
                          uint32_t(id * 2654435761u));
    c.wbuf.append(line, size_t(n));
    c.pending.push_back({id, t, phase});
  }

  void on_readable(Conn& c) {
    thread_local char buf[64 * 1024];
    for (int round = 0; round < 8; ++round) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0) return fail(c, "closed by the server");
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return fail(c, std::string("recv: ") + std::strerror(errno));
      }
      int64_t t = now_ns();
      const char* p = buf;
      size_t left = size_t(n);
      while (left > 0) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', left));
        if (!nl) {
          c.rbuf.append(p, left);
          break;
        }
        size_t len = size_t(nl - p);
        if (c.rbuf.empty()) {
          on_line(c, std::string_view(p, len), t);
        } else {
          c.rbuf.append(p, len);
          std::string line = std::move(c.rbuf);
          c.rbuf.clear();
          on_line(c, line, t);
        }
        if (c.state == Conn::kDead) return;
        p = nl + 1;
        left -= len + 1;
      }
      if (size_t(n) < sizeof buf) return;
    }
  }

  void on_line(Conn& c, std::string_view line, int64_t t) {
    // Our requests carry numeric ids; the server's notifications have "id":null.
    constexpr std::string_view id_prefix = "{\"id\":";
    if (line.substr(0, id_prefix.size()) == id_prefix && line.size() > id_prefix.size() &&
        std::isdigit((unsigned char)line[id_prefix.size()])) {
      uint64_t id = std::strtoull(line.data() + id_prefix.size(), nullptr, 10);
      if (id >= 3) return on_submit_reply(c, id, line, t);
      return on_handshake_reply(c, id, line);
    }
    if (line.find("\"mining.notify\"") != std::string_view::npos) return on_notify(c, line);
    // mining.set_difficulty and anything else: not needed here.
  }

  void on_handshake_reply(Conn& c, uint64_t id, std::string_view line) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) return fail(c, "unparsable reply: " + std::string(line.substr(0, 200)));
    if (id == 1) {
      const json& r = j["result"];
      if (!r.is_array() || r.size() < 3 || !r[2].is_number_integer())
        return fail(c, "subscribe refused: " + std::string(line.substr(0, 200)));
      c.en2_size = std::clamp(r[2].get<int>(), 1, 8);
    } else if (id == 2) {
      if (!(j["result"].is_boolean() && j["result"].get<bool>()))
        return fail(c, "authorize refused: " + std::string(line.substr(0, 300)));
      c.authorized = true;
    }
    maybe_ready(c);
  }

  void maybe_ready(Conn& c) {
    if (c.state == Conn::kHandshake && c.authorized && c.have_job) {
      c.state = Conn::kReady;
      sh_.ready.fetch_add(1);
    }
  }

  // params: [job_id, prevhash, coinb1, coinb2, [branch...], version, nbits, ntime, clean].
  // Only the job id (first) and ntime (the last string) are needed: no full JSON parse.
  void on_notify(Conn& c, std::string_view line) {
    ++ts_.notifies;
    auto p = line.find("\"params\":[\"");
    auto last_quote = line.rfind('"');
    uint32_t ntime = 0;
    if (p == std::string_view::npos || last_quote == std::string_view::npos || last_quote < 8 ||
        !parse_hex32(line.substr(last_quote - 8, 8), ntime)) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j["params"].is_array() || j["params"].size() < 9)
        return fail(c, "bad mining.notify: " + std::string(line.substr(0, 200)));
      c.job_id = j["params"][0].get<std::string>();
      parse_hex32(j["params"][7].get<std::string>(), ntime);
    } else {
      p += 11;
      auto e = line.find('"', p);
      c.job_id = std::string(line.substr(p, e - p));
    }
    c.ntime = ntime;
    c.have_job = true;
    maybe_ready(c);
  }

  void on_submit_reply(Conn& c, uint64_t id, std::string_view line, int64_t t) {
    // Replies come in order; look further only if one went missing.
    auto it = c.pending.begin();
    while (it != c.pending.end() && it->id != id) ++it;
    if (it == c.pending.end()) {
      ++ts_.unexpected;
      return;
    }
    Pending p = *it;
    c.pending.erase(c.pending.begin(), it + 1);
    auto& ps = ts_.phases[size_t(p.phase)];
    bool ok = line.find("\"result\":true") != std::string_view::npos;
    if (ok) {
      ++ps.accepted;
    } else {
      ++ps.rejected;
      if (ts_.reject_samples.size() < 5) ts_.reject_samples.emplace_back(line.substr(0, 200));
    }
    ps.latency_us.push_back(uint32_t(std::min<int64_t>((t - p.sent_ns) / 1000, UINT32_MAX)));
    ps.sent_ms.push_back(uint32_t((p.sent_ns - sh_.sweep_start_ns.load(std::memory_order_relaxed)) / 1000000));
  }
};

std::vector<double> parse_rates(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(std::atof(item.c_str()));
  return out;
}

void usage() {
  std::fprintf(stderr,
               "usage: stratum_load --port P [options]\n"
               "  --host H             server address (127.0.0.1)\n"
               "  --address A          payout address used as the worker prefix (A.wI+DIFF)\n"
               "  --diff D             fixed difficulty suffix (0.0000000002328306436538696 = 2^-32)\n"
               "  --connections N      connections opened, subscribed and authorized (1000)\n"
               "  --submitters M       of which M submit shares during the sweep (1000; 0: idle only)\n"
               "  --rates R1,R2,...    total shares/s per sweep phase (5000,10000,20000,30000)\n"
               "  --phase-seconds S    send time per phase (15); --drain-seconds S between phases (2)\n"
               "  --idle-seconds S     settle time before the idle RSS reading (3)\n"
               "  --threads T          epoll threads (1); --connect-window W handshakes in flight (256)\n"
               "  --max-outstanding K  unanswered shares per connection before it skips (512)\n"
               "  --connect-timeout S  (120)\n"
               "  --pid PID            the server's pid: VmRSS and CPU readings\n"
               "  --json FILE          write the results as JSON too\n"
               "  --timeline S         also print, per window of S seconds, the shares sent and the worst latency\n");
}

double percentile(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return NAN;
  size_t i = size_t(std::ceil(q * double(sorted.size()))) ;
  i = std::clamp<size_t>(i, 1, sorted.size()) - 1;
  return sorted[i] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "stratum_load: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") o.host = next();
    else if (a == "--port") o.port = std::atoi(next().c_str());
    else if (a == "--address") o.address = next();
    else if (a == "--diff") o.diff = next();
    else if (a == "--connections") o.connections = std::atoi(next().c_str());
    else if (a == "--submitters") o.submitters = std::atoi(next().c_str());
    else if (a == "--rates") o.rates = parse_rates(next());
    else if (a == "--phase-seconds") o.phase_seconds = std::atof(next().c_str());
    else if (a == "--drain-seconds") o.drain_seconds = std::atof(next().c_str());
    else if (a == "--idle-seconds") o.idle_seconds = std::atof(next().c_str());
    else if (a == "--connect-timeout") o.connect_timeout = std::atof(next().c_str());
    else if (a == "--threads") o.threads = std::atoi(next().c_str());
    else if (a == "--connect-window") o.connect_window = std::atoi(next().c_str());
    else if (a == "--max-outstanding") o.max_outstanding = std::atoi(next().c_str());
    else if (a == "--pid") o.pid = std::atoi(next().c_str());
    else if (a == "--json") o.json_out = next();
    else if (a == "--timeline") o.timeline = std::atof(next().c_str());
    else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (o.port <= 0 || o.connections < 1 || o.connections > 1000000 || o.submitters < 0 ||
      o.submitters > o.connections || o.threads < 1 || o.threads > 64 || o.phase_seconds <= 0 ||
      o.phase_seconds > 3600 || o.connect_window < 1 || o.max_outstanding < 1) {
    usage();
    return 2;
  }
  if (o.submitters == 0) o.rates.clear();

  // One descriptor per connection, plus room.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t want = rlim_t(o.connections) + 256;
  if (rl.rlim_cur < want) {
    if (rl.rlim_max < want) rl.rlim_max = want;  // root may raise the hard limit
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      std::fprintf(stderr, "stratum_load: cannot raise RLIMIT_NOFILE to %llu: %s\n", (unsigned long long)want,
                   std::strerror(errno));
      return 1;
    }
  }

  Shared sh;
  double total_seconds = o.connect_timeout + o.idle_seconds + 5 +
                         double(o.rates.size()) * (o.phase_seconds + o.drain_seconds) + 5;
  sh.deadline_ns = now_ns() + int64_t(total_seconds * 1e9);

  std::vector<ThreadState> ts(size_t(o.threads));
  for (int t = 0; t < o.threads; ++t) {
    ts[size_t(t)].id = t;
    ts[size_t(t)].phases.resize(o.rates.size());
  }
  for (int i = 0; i < o.connections; ++i) {
    auto& t = ts[size_t(i % o.threads)];
    Conn c;
    c.index = int(t.conns.size());
    c.worker = o.address + ".w" + std::to_string(i) + "+" + o.diff;
    c.submitter = i < o.submitters;
    if (c.submitter) t.submitters.push_back(c.index);
    t.conns.push_back(std::move(c));
  }

  long rss_before = rss_kib(o.pid);
  std::printf("stratum_load: %s:%d, %d connections (%d submitting), %d thread(s), server pid %d\n", o.host.c_str(),
              o.port, o.connections, o.submitters, o.threads, o.pid);
  std::printf("server RSS before connecting: %ld KiB\n", rss_before);
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (auto& t : ts)
    threads.emplace_back([&o, &sh, &t] { Worker(o, sh, t).run(); });

  // 1. Connect, subscribe, authorize, first job.
  auto c0 = Clock::now();
  auto connect_end = c0 + std::chrono::duration<double>(o.connect_timeout);
  while (sh.ready.load() + sh.failed.load() < o.connections && Clock::now() < connect_end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double connect_s = std::chrono::duration<double>(Clock::now() - c0).count();
  int ready = sh.ready.load(), failed = sh.failed.load();
  std::printf("connected, subscribed, authorized, first job: %d of %d in %.2f s (%d failed)\n", ready, o.connections,
              connect_s, failed);
  std::fflush(stdout);
  sh.stage.store(kIdle, std::memory_order_release);

  // 2. Idle: let allocations settle, then read the server's RSS.
  std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));
  long rss_idle = rss_kib(o.pid);
  int held = sh.ready.load();
  double per_conn = held > 0 && rss_before > 0 ? double(rss_idle - rss_before) * 1024.0 / held : NAN;
  std::printf("server RSS with %d idle connections: %ld KiB (+%ld KiB): %.0f bytes = %.2f KiB per connection\n", held,
              rss_idle, rss_idle - rss_before, per_conn, per_conn / 1024);
  std::fflush(stdout);

  // 3. The sweep.
  struct PhaseReading {
    long rss_max = -1;
    double server_cpu = 0, self_cpu = 0;
  };
  std::vector<PhaseReading> readings(o.rates.size());
  // Scheduling probe: a thread that sleeps 1 ms at a time and notes how late it wakes, per
  // phase. Late wake-ups that line up with latency spikes are the machine's (other tenants,
  // the hypervisor), not the server's.
  std::vector<uint32_t> probe_worst_us(o.rates.size(), 0);
  std::vector<uint32_t> probe_over5ms(o.rates.size(), 0);
  std::atomic<bool> probe_stop{false};
  std::thread probe([&] {
    while (!probe_stop.load() && now_ns() < sh.deadline_ns) {
      int64_t a = now_ns();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      int64_t late = now_ns() - a - 1'000'000;
      int64_t t0 = sh.sweep_start_ns.load();
      if (t0 == 0 || a < t0) continue;
      int64_t period = int64_t((o.phase_seconds + o.drain_seconds) * 1e9);
      size_t k = size_t((a - t0) / period);
      if (k >= probe_worst_us.size() || (a - t0) % period >= int64_t(o.phase_seconds * 1e9)) continue;
      probe_worst_us[k] = std::max<uint32_t>(probe_worst_us[k], uint32_t(std::max<int64_t>(0, late) / 1000));
      if (late > 5'000'000) ++probe_over5ms[k];
    }
  });
  if (!o.rates.empty() && held > 0) {
    int64_t t0 = now_ns() + 200'000'000;
    sh.sweep_start_ns.store(t0);
    sh.stage.store(kSweep, std::memory_order_release);
    const int64_t period = int64_t((o.phase_seconds + o.drain_seconds) * 1e9);
    for (size_t k = 0; k < o.rates.size(); ++k) {
      int64_t ps = t0 + int64_t(k) * period, pe = ps + int64_t(o.phase_seconds * 1e9);
      while (now_ns() < ps) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      double scpu0 = cpu_seconds(o.pid), mcpu0 = self_cpu_seconds();
      while (now_ns() < pe) {
        readings[k].rss_max = std::max(readings[k].rss_max, rss_kib(o.pid));
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      readings[k].server_cpu = cpu_seconds(o.pid) - scpu0;
      readings[k].self_cpu = self_cpu_seconds() - mcpu0;
    }
    while (now_ns() < t0 + int64_t(o.rates.size()) * period) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  long rss_end = rss_kib(o.pid);
  sh.stage.store(kDone, std::memory_order_release);
  probe_stop = true;
  probe.join();
  for (auto& t : threads) t.join();

  // 4. Results.
  json out;
  out["connections"] = o.connections;
  out["submitters"] = o.submitters;
  out["threads"] = o.threads;
  out["connected"] = ready;
  out["held"] = held;
  out["failed"] = sh.failed.load();
  out["connect_seconds"] = connect_s;
  out["rss_before_kib"] = rss_before;
  out["rss_idle_kib"] = rss_idle;
  out["rss_per_idle_connection_bytes"] = per_conn;
  out["rss_end_kib"] = rss_end;
  out["phases"] = json::array();
  uint64_t notifies = 0, unexpected = 0;
  std::vector<std::string> samples;
  for (auto& t : ts) {
    notifies += t.notifies;
    unexpected += t.unexpected;
    for (auto& s : t.reject_samples)
      if (samples.size() < 5) samples.push_back(s);
  }
  if (!o.rates.empty())
    std::printf("\n%10s %10s %10s %9s %9s %8s %8s %8s %9s %11s %10s %10s\n", "target/s", "sent/s", "accepted/s",
                "rejected", "skipped", "p50 ms", "p99 ms", "max ms", "unanswrd", "srv RSS KiB", "srv cpu %", "gen cpu %");
  if (!o.rates.empty())
    std::printf("(probe: worst late wake-up of a 1 ms sleep in this process, and how many were > 5 ms late)\n");
  for (size_t k = 0; k < o.rates.size(); ++k) {
    PhaseStats all;
    for (auto& t : ts) {
      auto& p = t.phases[k];
      all.sent += p.sent, all.accepted += p.accepted, all.rejected += p.rejected, all.skipped += p.skipped;
      all.latency_us.insert(all.latency_us.end(), p.latency_us.begin(), p.latency_us.end());
    }
    if (o.timeline > 0) {
      for (auto& t : ts) all.sent_ms.insert(all.sent_ms.end(), t.phases[k].sent_ms.begin(), t.phases[k].sent_ms.end());
      uint32_t window = uint32_t(std::max(1.0, o.timeline * 1000));
      std::vector<std::pair<uint32_t, uint32_t>> w;  // (count, max latency) per window
      for (size_t i = 0; i < all.sent_ms.size(); ++i) {
        size_t b = all.sent_ms[i] / window;
        if (w.size() <= b) w.resize(b + 1);
        ++w[b].first;
        w[b].second = std::max(w[b].second, all.latency_us[i]);
      }
      std::printf("timeline of the %.0f/s phase (window start s: shares, worst ms):", o.rates[k]);
      for (size_t b = 0; b < w.size(); ++b)
        if (w[b].first) std::printf(" %.2f:%u,%.1f", b * window / 1000.0, w[b].first, w[b].second / 1000.0);
      std::printf("\n");
    }
    std::sort(all.latency_us.begin(), all.latency_us.end());
    double p50 = percentile(all.latency_us, 0.50), p99 = percentile(all.latency_us, 0.99),
           mx = all.latency_us.empty() ? NAN : all.latency_us.back() / 1000.0;
    uint64_t unanswered = all.sent - all.accepted - all.rejected;
    double secs = o.phase_seconds;
    std::printf("%10.0f %10.0f %10.0f %9" PRIu64 " %9" PRIu64 " %8.3f %8.3f %8.2f %9" PRIu64 " %11ld %10.1f %10.1f\n",
                o.rates[k], all.sent / secs, all.accepted / secs, all.rejected, all.skipped, p50, p99, mx, unanswered,
                readings[k].rss_max, 100 * readings[k].server_cpu / secs, 100 * readings[k].self_cpu / secs);
    std::printf("%10s probe: worst %.1f ms late, %u wake-ups > 5 ms late\n", "", probe_worst_us[k] / 1000.0,
                probe_over5ms[k]);
    out["phases"].push_back({{"target_rate", o.rates[k]},
                             {"seconds", secs},
                             {"sent", all.sent},
                             {"accepted", all.accepted},
                             {"rejected", all.rejected},
                             {"skipped_backpressure", all.skipped},
                             {"unanswered", unanswered},
                             {"accepted_per_second", all.accepted / secs},
                             {"p50_ms", p50},
                             {"p99_ms", p99},
                             {"max_ms", mx},
                             {"server_rss_max_kib", readings[k].rss_max},
                             {"server_cpu_seconds", readings[k].server_cpu},
                             {"server_cpu_us_per_share",
                              all.accepted + all.rejected ? 1e6 * readings[k].server_cpu / double(all.accepted + all.rejected)
                                                          : NAN},
                             {"generator_cpu_seconds", readings[k].self_cpu},
                             {"probe_worst_late_ms", probe_worst_us[k] / 1000.0},
                             {"probe_late_over_5ms", probe_over5ms[k]}});
  }
  out["notifies_received"] = notifies;
  out["unexpected_replies"] = unexpected;
  out["reject_samples"] = samples;
  std::printf("\nnotifies received: %" PRIu64 ", unexpected replies: %" PRIu64 ", server RSS at the end: %ld KiB\n",
              notifies, unexpected, rss_end);
  for (auto& s : samples) std::printf("sample rejection: %s\n", s.c_str());
  if (!o.json_out.empty()) {
    std::ofstream f(o.json_out);
    f << out.dump(1) << "\n";
  }
  return ready == o.connections ? 0 : 1;
}
