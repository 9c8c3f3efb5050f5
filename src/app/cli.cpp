#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/app.h"
#include "core/core.h"
#include "p2p/federation.h"

namespace otedama::app {

namespace {

// Loads and validates a config file, printing every error. nullopt on failure.
std::optional<config::LoadResult> load_or_report(const std::string& path) {
  config::LoadResult r = config::load_file(path);
  if (!r.ok()) {
    for (const auto& e : r.errors) fprintf(stderr, "error: %s\n", e.format().c_str());
    fprintf(stderr, "%zu error%s in %s\n", r.errors.size(), r.errors.size() == 1 ? "" : "s", path.c_str());
    return std::nullopt;
  }
  return r;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"Otedama: mining pool node, P2P pool and miner", "otedama"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("otedama ") + std::string(version()));

  std::string config_path = "config.yaml";
  auto* serve_cmd = app.add_subcommand("serve", "Run the node (pool, API, metrics, health) until SIGINT/SIGTERM");
  serve_cmd->add_option("-c,--config", config_path, "Configuration file (YAML)")->capture_default_str();

  StatusOptions status_opts;
  auto* status_cmd = app.add_subcommand("status", "Show a running node's status from its API");
  status_cmd->add_option("--api", status_opts.api_url, "The node's API base URL")->capture_default_str();
  status_cmd->add_flag("--json", status_opts.json, "Print the raw JSON");

  auto* config_cmd = app.add_subcommand("config", "Check or create configuration files");
  config_cmd->require_subcommand(1);
  std::string validate_path;
  auto* validate_cmd = config_cmd->add_subcommand("validate", "Check a config file: prints ok, or every error (exit 2)");
  validate_cmd->add_option("file", validate_path, "Configuration file")->required();
  auto* init_cmd = config_cmd->add_subcommand("init", "Print the full commented example configuration");

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  std::string passwd_user, passwd_role = "admin";
  auto* passwd_cmd = app.add_subcommand("passwd", "Hash a password (argon2id) for api.auth.users; reads it from stdin");
  passwd_cmd->add_option("--user", passwd_user, "Print a whole api.auth.users entry for this user name");
  passwd_cmd->add_option("--role", passwd_role, "admin|viewer (with --user)")->check(CLI::IsMember({"admin", "viewer"}))->capture_default_str();

  HashOptions hash_opts;
  std::string input, key, header, nonce;
  uint64_t height = 0;
  auto* hash_cmd = app.add_subcommand("hash", "Hash one input and print the digest as lowercase hex");
  hash_cmd->add_option("--algo", hash_opts.algo, "sha256d|scrypt|keccak256|randomx|ethash|etchash|kawpow")->required();
  auto* input_opt = hash_cmd->add_option("--input", input, "Input bytes (hex, may be empty)");
  auto* key_opt = hash_cmd->add_option("--key", key, "RandomX key (hex, 0 to 60 bytes)");
  auto* height_opt = hash_cmd->add_option("--height", height, "Block number (ethash, etchash, kawpow)");
  auto* header_opt = hash_cmd->add_option("--header", header, "32-byte header hash (hex)");
  auto* nonce_opt = hash_cmd->add_option("--nonce", nonce, "64-bit nonce as 16 hex digits");

  MineOptions mine_opts;
  auto* mine_cmd = app.add_subcommand("mine", "Mine on a pool with the CPU: sha256d and scrypt over Stratum v1, "
                                              "randomx (rx/0) over Monero-style Stratum (XMRig's protocol)");
  mine_cmd->add_option("-o,--url", mine_opts.urls, "stratum+tcp://HOST:PORT or stratum+ssl://HOST:PORT; repeat for fail-over pools")->required();
  mine_cmd->add_option("-u,--user", mine_opts.user, "ADDRESS.WORKER (Monero: the pool's login, e.g. ADDRESS.WORKER+DIFF)")->required();
  mine_cmd->add_option("-p,--pass", mine_opts.password, "Password")->capture_default_str();
  mine_cmd->add_option("-a,--algo", mine_opts.algo, "sha256d|scrypt (Stratum v1) or randomx (Monero Stratum)")
      ->check(CLI::IsMember({"sha256d", "scrypt", "randomx"}))->capture_default_str();
  mine_cmd->add_option("-t,--threads", mine_opts.threads, "Threads (0 = every hardware thread)")->capture_default_str();
  mine_cmd->add_option("--report", mine_opts.report_seconds, "Seconds between status lines")->capture_default_str();
  mine_cmd->add_option("--randomx-mode", mine_opts.randomx_mode, "randomx: fast (2 GiB dataset), light (256 MiB cache), "
                                                                  "or auto (fast, light when the dataset cannot be allocated)")
      ->check(CLI::IsMember({"auto", "fast", "light"}))->capture_default_str();
  mine_cmd->add_flag("!--no-large-pages", mine_opts.large_pages, "randomx: do not try large pages");

  std::string notify_url = "http://127.0.0.1:8081", notify_pool, notify_hash;
  auto* notify_cmd = app.add_subcommand("blocknotify", "Tell a local node that its coin daemon has a new block "
                                                       "(for -blocknotify=\"otedama blocknotify %s\")");
  notify_cmd->add_option("--url", notify_url, "The node's health server (monitoring.health.address)")->capture_default_str();
  notify_cmd->add_option("--pool", notify_pool, "Only this pool (default: every pool)");
  notify_cmd->add_option("hash", notify_hash, "The new block's hash (for the log; optional)");

  BenchOptions bench_opts;
  auto* bench_cmd = app.add_subcommand("bench", "Measure the mining search loop's steady hashrate");
  bench_cmd->add_option("--algo", bench_opts.algo, "sha256d|scrypt|randomx|ethash|etchash|kawpow")->required();
  bench_cmd->add_option("--threads", bench_opts.threads, "Threads (0 = all)")->capture_default_str();
  bench_cmd->add_option("--seconds", bench_opts.seconds, "Duration in seconds")->capture_default_str();
  bench_cmd->add_flag("--json", bench_opts.json, "Print one JSON object on one line");
  bench_cmd->add_option("--variant", bench_opts.variant, "Kernel: auto, or sha256d: portable|sha-ni|avx2|avx512|sha-ni+avx512; scrypt: portable|sse2|avx2|avx512")->capture_default_str();
  bench_cmd->add_flag("--light", bench_opts.randomx_light, "RandomX: light mode (256 MiB cache) instead of fast");
  bench_cmd->add_flag("!--no-large-pages", bench_opts.large_pages, "Do not try large pages");

  auto* federation_cmd = app.add_subcommand("federation", "Federation between pools (docs/p2p.md)");
  auto* keygen_cmd = federation_cmd->add_subcommand("keygen", "Create an ed25519 key file (mode 0600, never overwritten) and print its public key");
  std::string key_out;
  keygen_cmd->add_option("--out", key_out, "The key file to create (p2p.federation.key_file)")->required();

  // CLI11 reports "a subcommand is required" before an unknown word or flag; say what is wrong.
  if (argc > 1) {
    std::string first = argv[1];
    bool known = false;
    for (auto* sub : app.get_subcommands({})) known = known || sub->get_name() == first;
    if (!known && first != "--help" && first != "-h" && first != "--version") {
      std::string names;
      for (auto* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
      fprintf(stderr, "error: unknown %s '%s' (commands: %s; see otedama --help)\n",
              first.rfind("-", 0) == 0 ? "option" : "command", first.c_str(), names.c_str());
      return kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (version_cmd->parsed()) {
    printf("otedama %s (commit %s)\n", std::string(version()).c_str(), std::string(git_commit()).c_str());
    return kExitOk;
  }
  if (init_cmd->parsed()) {
    fputs(config::example_yaml().c_str(), stdout);
    return kExitOk;
  }
  if (validate_cmd->parsed()) {
    auto r = load_or_report(validate_path);
    if (!r) return kExitUsage;
    for (const auto& w : r->warnings) fprintf(stderr, "warning: %s\n", w.c_str());
    printf("ok\n");
    return kExitOk;
  }
  if (keygen_cmd->parsed()) {
    try {
      auto key = p2p::Ed25519Key::generate();
      key.save(key_out);
      printf("%s\n", key.public_key_hex().c_str());
      return kExitOk;
    } catch (const std::exception& e) {
      fprintf(stderr, "error: %s\n", e.what());
      return kExitUsage;
    }
  }
  if (status_cmd->parsed()) return status(status_opts);
  if (passwd_cmd->parsed()) return passwd(passwd_user, passwd_role);
  if (hash_cmd->parsed()) {
    if (input_opt->count()) hash_opts.input = input;
    if (key_opt->count()) hash_opts.key = key;
    if (height_opt->count()) hash_opts.height = height;
    if (header_opt->count()) hash_opts.header = header;
    if (nonce_opt->count()) hash_opts.nonce = nonce;
    return hash(hash_opts);
  }
  if (bench_cmd->parsed()) return bench(bench_opts);
  if (mine_cmd->parsed()) return mine(mine_opts);
  if (notify_cmd->parsed()) return blocknotify(notify_url, notify_pool, notify_hash);
  if (serve_cmd->parsed()) {
    auto r = load_or_report(config_path);
    if (!r) return kExitUsage;
    return serve(*r->config, r->warnings);
  }
  return kExitUsage;
}

}  // namespace otedama::app
