// logging.hpp: sets up the process-wide spdlog logger from the logging config.
// Logs go to stderr and, when logging.file_path is set, to a rotating file;
// never to stdout, which belongs to the stdio transport's protocol messages.
#pragma once

#include <isb/core/config.hpp>
#include <isb/core/result.hpp>

#include <spdlog/spdlog.h>

namespace isb::logging {

//! Maps a config level name (seed spellings included: WARNING, CRITICAL) to spdlog.
Result<spdlog::level::level_enum> parse_level(const std::string& name);

//! Installs the default logger. Safe to call again (replaces the logger).
Status init(const LoggingConfig& config);

}  // namespace isb::logging
