// utc_time.cpp: formatting and parsing UTC times.
#include "time/utc_time.hpp"

#include <cctype>
#include <cstdio>

namespace isb {

std::string iso8601_utc(std::chrono::system_clock::time_point when, Iso8601 style) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  if (style == Iso8601::kBasic) {
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
  }
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (style == Iso8601::kMilliseconds) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
    if (ms < 0) ms += 1000;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
    out += frac;
  }
  return out + "Z";
}

std::string iso8601_utc(std::time_t seconds, Iso8601 style) {
  return iso8601_utc(std::chrono::system_clock::from_time_t(seconds), style);
}

std::optional<int64_t> parse_rfc3339_ms(std::string_view text) {
  const std::string s(text);
  int y, mo, d, h, mi, sec;
  char rest[32] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &sec, rest) < 6)
    return std::nullopt;
  std::string r = rest;
  int64_t ms = 0;
  if (!r.empty() && r[0] == '.') {
    size_t k = 1;
    std::string frac;
    while (k < r.size() && std::isdigit(static_cast<unsigned char>(r[k]))) frac += r[k++];
    if (frac.empty()) return std::nullopt;
    frac = (frac + "000").substr(0, 3);
    ms = std::stoll(frac);
    r = r.substr(k);
  }
  if (r != "Z" && r != "z" && r != "+00:00") return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace isb
