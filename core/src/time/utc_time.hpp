// utc_time.hpp: the core's one ISO 8601 / RFC 3339 formatter and parser for
// UTC times: in results, in the audit log, in metrics and in file names.
//
//   iso8601_utc(now);                                // "2026-11-26T12:00:00Z"
//   iso8601_utc(now, Iso8601::kMilliseconds);        // "2026-11-26T12:00:00.123Z"
//   iso8601_utc(now, Iso8601::kBasic);               // "20261126T120000Z" (file names)
//   parse_rfc3339_ms("2026-11-26T12:00:00.5Z");      // ms since the epoch
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace isb {

enum class Iso8601 {
  kSeconds,       //!< 2026-11-26T12:00:00Z
  kMilliseconds,  //!< 2026-11-26T12:00:00.123Z
  kBasic,         //!< 20261126T120000Z: no separators, for file names
};

std::string iso8601_utc(std::chrono::system_clock::time_point when, Iso8601 style = Iso8601::kSeconds);
//! The same for seconds since the epoch.
std::string iso8601_utc(std::time_t seconds, Iso8601 style = Iso8601::kSeconds);

//! Milliseconds since the epoch of "2026-11-26T12:00:00Z", with an optional
//! fraction and an offset of Z (or +00:00) only; nullopt for anything else.
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace isb
