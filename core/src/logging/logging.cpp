// logging.cpp: the process-wide logger (stderr + optional rotating file).
// host paths only: the server's log files; nothing here names a path inside a workspace.
#include <isb/core/logging.hpp>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "config/log_format.hpp"

namespace isb::logging {
namespace {

// Python's level names and numbers, for the fields of a Python logging format
// that spdlog has no flag for (%(levelname)s, %(levelno)s).
std::string_view python_level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARNING";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "CRITICAL";
    default:
      return "NOTSET";
  }
}
std::string_view python_level_number(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "5";
    case spdlog::level::debug:
      return "10";
    case spdlog::level::info:
      return "20";
    case spdlog::level::warn:
      return "30";
    case spdlog::level::err:
      return "40";
    case spdlog::level::critical:
      return "50";
    default:
      return "0";
  }
}

// A custom flag printing text(level), padded as the pattern asks (%-8Q).
template <std::string_view (*Text)(spdlog::level::level_enum)>
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view text = Text(msg.level);
    const size_t width = padinfo_.enabled() ? padinfo_.width_ : 0;
    if (padinfo_.truncate_ && width < text.size()) text = text.substr(0, width);
    const size_t pad = width > text.size() ? width - text.size() : 0;
    const size_t before = padinfo_.side_ == spdlog::details::padding_info::pad_side::left     ? pad
                          : padinfo_.side_ == spdlog::details::padding_info::pad_side::center ? pad / 2
                                                                                              : 0;
    dest.append(std::string(before, ' '));
    dest.append(text.data(), text.data() + text.size());
    dest.append(std::string(pad - before, ' '));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

}  // namespace

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
      // max_size_mb 0: one file that is never rotated (spdlog cannot rotate at 0 bytes).
      if (config.max_size_mb == 0) {
        sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file_path));
      } else {
        sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
            config.file_path, static_cast<size_t>(config.max_size_mb) * 1024 * 1024,
            static_cast<size_t>(config.backup_count)));
      }
    } catch (const spdlog::spdlog_ex& e) {
      return make_error(ErrorCode::kInvalidConfig, "cannot open log file logging.file_path='" + config.file_path +
                                                       "': " + e.what() + "; fix the path or leave it empty");
    }
  }
  // Checked at load already; checked again for configs built in code.
  auto pattern = config_internal::spdlog_pattern(config.format);
  if (!pattern) return make_error(ErrorCode::kInvalidConfig, "logging.format: " + pattern.error().message);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelFlag<python_level_name>>(config_internal::kUpperLevelNameFlag);
  formatter->add_flag<LevelFlag<python_level_number>>(config_internal::kLevelNumberFlag);
  formatter->set_pattern(pattern->empty() ? "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v" : *pattern);
  // The name %n (Python's %(name)s) prints.
  auto logger = std::make_shared<spdlog::logger>("intelligent-sandbox", sinks.begin(), sinks.end());
  logger->set_level(*level);
  logger->set_formatter(std::move(formatter));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  // Someone following the log file sees info lines (the metrics summary, a
  // request) within a second, not when a buffer fills.
  spdlog::flush_every(std::chrono::seconds(1));
  return ok_status();
}

}  // namespace isb::logging
