// log_format.hpp: logging.format, as an spdlog pattern or a Python logging format.
//
// The seed guide writes logging.format the Python way,
// '%(asctime)s - %(name)s - %(levelname)s - %(message)s'. spdlog reads "%("
// as an unknown flag and prints nothing for it, so such a format used as a
// pattern blanks every line. A format with "%(" in it is therefore read as a
// Python format and translated field by field; a field this server cannot fill
// is refused, with the list of those it can, instead of printing blanks.
//
//   auto pattern = isb::config_internal::spdlog_pattern("%(asctime)s %(levelname)-8s %(message)s");
//   // "%Y-%m-%d %H:%M:%S,%e %-8Q %v"; %Q and %N are the flags below
//
// Any other format is an spdlog pattern and is taken as it is, provided it
// shows the message (%v or %+).
#pragma once

#include <isb/core/result.hpp>
#include <string>

namespace isb::config_internal {

//! Custom spdlog flags the logger registers for the Python fields spdlog has
//! no flag for: the level name upper-case (INFO, WARNING) and its number (20, 30).
inline constexpr char kUpperLevelNameFlag = 'Q';
inline constexpr char kLevelNumberFlag = 'N';

//! The fields a Python format may use here, for messages and docs.
inline constexpr const char* kSupportedPythonFields =
    "asctime, created, msecs, name, levelname, levelno, message, process, thread";

//! The spdlog pattern for format (empty stays empty: the built-in pattern).
//! Errors say what in the format cannot be used and what can.
Result<std::string> spdlog_pattern(const std::string& format);

}  // namespace isb::config_internal
