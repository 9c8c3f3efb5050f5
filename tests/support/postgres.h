// A throwaway PostgreSQL 15 cluster for tests: initdb in a directory under the test's TempDir,
// the server on its own free loopback port (and a Unix socket in that directory), trust
// authentication, stopped and removed with the object, and killed with the test process
// (PDEATHSIG) if the test dies. PostgreSQL refuses to run as root, so under root the server
// runs as the `postgres` system user (created by Debian's package).
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/support.h"

namespace otedama::test {

class PostgresCluster {
 public:
  static std::string bin(const std::string& name) { return "/usr/lib/postgresql/15/bin/" + name; }
  static bool available() { return std::filesystem::exists(bin("initdb")) && std::filesystem::exists(bin("postgres")); }

  // `fsync`: off for tests (nothing here simulates a power loss), on for benchmarks.
  explicit PostgresCluster(const std::filesystem::path& dir, bool fsync = false) : base_(dir / "pg"), fsync_(fsync) {
    if (!available()) throw std::runtime_error("PostgreSQL 15 is not installed (scripts/setup.sh installs it)");
    std::filesystem::create_directories(base_ / "sock");
    if (geteuid() == 0) {
      passwd* pw = getpwnam("postgres");
      if (!pw) throw std::runtime_error("running as root and there is no `postgres` user to run the server as");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      for (auto p : {base_, base_ / "sock"})
        if (chown(p.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown " + p.string() + " failed");
      // The server must reach its directory through the test's temp dir.
      chmod(dir.c_str(), 0755);
    }
    int code = run_as({bin("initdb"), "-D", (base_ / "data").string(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                       "--locale=C", "-N"},
                      base_ / "initdb.log", std::chrono::seconds(120));
    if (code != 0) throw std::runtime_error("initdb failed (" + std::to_string(code) + "): " + read_file(base_ / "initdb.log"));
    port_ = free_port();
    start();
  }
  ~PostgresCluster() { stop(); }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  uint16_t port() const { return port_; }
  std::string dsn(const std::string& db = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  void start() {
    if (pid_ > 0) return;
    std::filesystem::remove(base_ / "data" / "postmaster.pid");  // left by a SIGKILLed server
    prepare_log(base_ / "server.log");
    pid_ = spawn({bin("postgres"), "-D", (base_ / "data").string(), "-p", std::to_string(port_), "-k",
                  (base_ / "sock").string(), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=60", "-c",
                  std::string("fsync=") + (fsync_ ? "on" : "off"), "-c", "shared_buffers=64MB"},
                 base_ / "server.log");
    // Ready when postmaster.pid's status line says so.
    bool ready = eventually(
        [&] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("postgres exited at start: " + read_file(base_ / "server.log"));
          }
          return read_file(base_ / "data" / "postmaster.pid").find("ready") != std::string::npos;
        },
        std::chrono::seconds(60), std::chrono::milliseconds(20));
    if (!ready) throw std::runtime_error("postgres did not become ready: " + read_file(base_ / "server.log"));
  }

  // Fast shutdown (what a restart by the operator does); SIGKILL if it hangs.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < end) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  void restart() {
    stop();
    start();
  }

  // Runs SQL through psql; throws with psql's output when it fails.
  std::string sql(const std::string& statement, const std::string& db = "postgres") const {
    auto r = test::run({bin("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                        std::to_string(port_), "-U", "postgres", "-d", db, "-c", statement},
                       base_, std::chrono::seconds(60));
    if (r.code != 0) throw std::runtime_error("psql failed: " + statement + ": " + r.err + r.out);
    return r.out;
  }

  // A fresh database; returns its DSN.
  std::string create_database() {
    std::string name = "t" + std::to_string(++databases_);
    sql("CREATE DATABASE " + name);
    return dsn(name);
  }

 private:
  // Child: drop to the postgres user when root, then die with the test.
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) const {
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      if (uid_ != 0) {
        if (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0) _exit(126);
      }
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which clears it
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int n = ::open("/dev/null", O_RDONLY);
      dup2(n, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    return pid;
  }

  int run_as(const std::vector<std::string>& argv, const std::filesystem::path& log, std::chrono::seconds timeout) const {
    prepare_log(log);
    pid_t pid = spawn(argv, log);
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }

  // The log file must be writable by the server user.
  void prepare_log(const std::filesystem::path& log) const {
    ::close(::open(log.c_str(), O_WRONLY | O_CREAT, 0644));
    if (uid_ != 0 && chown(log.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown " + log.string() + " failed");
  }

  std::filesystem::path base_;
  bool fsync_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
};

}  // namespace otedama::test
