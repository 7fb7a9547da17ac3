// logging.cpp: the process-wide logger (stderr + optional rotating file).
// host paths only: the server's log files; nothing here names a path inside a workspace.
#include <isb/core/logging.hpp>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

namespace isb::logging {

Result<spdlog::level::level_enum> parse_level(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "trace") return spdlog::level::trace;
  if (n == "debug") return spdlog::level::debug;
  if (n == "info") return spdlog::level::info;
  if (n == "warning" || n == "warn") return spdlog::level::warn;
  if (n == "error") return spdlog::level::err;
  if (n == "critical") return spdlog::level::critical;
  if (n == "off") return spdlog::level::off;
  return make_error(ErrorCode::kInvalidConfig,
                    "unknown log level '" + name + "'; use trace, debug, info, warning, error, critical or off");
}

Status init(const LoggingConfig& config) {
  auto level = parse_level(config.level);
  if (!level) return level.error();
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!config.file_path.empty()) {
    std::error_code ec;
    auto parent = std::filesystem::path(config.file_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          config.file_path, static_cast<size_t>(config.max_size_mb) * 1024 * 1024,
          static_cast<size_t>(config.backup_count)));
    } catch (const spdlog::spdlog_ex& e) {
      return make_error(ErrorCode::kInvalidConfig, "cannot open log file logging.file_path='" + config.file_path +
                                                       "': " + e.what() + "; fix the path or leave it empty");
    }
  }
  auto logger = std::make_shared<spdlog::logger>("isb", sinks.begin(), sinks.end());
  logger->set_level(*level);
  logger->set_pattern(config.format.empty() ? "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v" : config.format);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return ok_status();
}

}  // namespace isb::logging
