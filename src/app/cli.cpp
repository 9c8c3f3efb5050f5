#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/app.h"
#include "core/core.h"

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
  if (status_cmd->parsed()) return status(status_opts);
  if (serve_cmd->parsed()) {
    auto r = load_or_report(config_path);
    if (!r) return kExitUsage;
    return serve(*r->config, r->warnings);
  }
  return kExitUsage;
}

}  // namespace otedama::app
