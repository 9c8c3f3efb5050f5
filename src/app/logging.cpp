#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "app/app.h"

namespace otedama::app {

void setup_logging(const config::Config& c) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!c.logging.file.empty()) {
    std::filesystem::path file(c.logging.file);
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(c.logging.file, c.logging.max_size,
                                                                             c.logging.max_files));
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("cannot open the log file " + c.logging.file + " (logging.file): " + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("otedama", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(c.logging.level));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(2));
}

}  // namespace otedama::app
