// Test helpers: free loopback ports, temporary directories, and child processes that are
// always killed and reaped, even when a test fails.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace otedama::test {

// A port that was free a moment ago on 127.0.0.1. Picked below the kernel's ephemeral range
// (ip_local_port_range), so that the outbound connections of daemons and clients running in
// parallel tests cannot take it between now and the moment a server binds it.
inline bool port_is_free(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = bind(fd, (sockaddr*)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

inline uint16_t free_port() {
  static std::mt19937 rng(std::random_device{}() ^ uint32_t(getpid()));
  int low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> low;
  if (low > 12000) {
    std::uniform_int_distribution<int> pick(10000, low - 1);
    for (int i = 0; i < 200; ++i) {
      uint16_t port = uint16_t(pick(rng));
      if (port_is_free(port)) return port;
    }
  }
  // Fall back to any port the kernel hands out.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, (sockaddr*)&a, sizeof a) != 0) throw std::runtime_error("bind for a free port failed");
  socklen_t len = sizeof a;
  getsockname(fd, (sockaddr*)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("otedama-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name, const std::string& content) const {
    auto p = path_ / name;
    std::ofstream(p) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with stdout/stderr captured to files in `dir`.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::filesystem::path& dir,
          const std::vector<std::string>& extra_env = {})
      : out_(dir / ("out-" + std::to_string(counter()))), err_(dir / ("err-" + std::to_string(counter()++))) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Die with the test: a test killed by a timeout must not leave daemons behind.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (chdir(dir.c_str()) != 0) _exit(127);
      int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int n = open("/dev/null", O_RDONLY);
      dup2(n, 0);
      dup2(o, 1);
      dup2(e, 2);
      for (const auto& kv : extra_env) putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { kill(pid_, sig); }
  // Exit code (or 128+signal); -1 when it did not exit within the timeout.
  int wait(std::chrono::milliseconds timeout) {
    if (exited_) return code_;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  bool running() { return wait(std::chrono::milliseconds(0)) == -1; }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

// Polls `done` until it returns true (true) or the timeout passes (false).
template <class F>
bool eventually(F done, std::chrono::milliseconds timeout, std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return false;
}

struct RunResult {
  int code;
  std::string out, err;
};

// Runs a command to completion (killed after `timeout`).
inline RunResult run(const std::vector<std::string>& argv, const std::filesystem::path& dir,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30),
                     const std::vector<std::string>& env = {}) {
  Process p(argv, dir, env);
  int code = p.wait(timeout);
  return {code, p.out(), p.err()};
}

}  // namespace otedama::test
