// json_fields.hpp: small helpers for reading the JSON documents that cross the
// plugin ABI (and, for the docker backend, come back from the engine), failing
// with an isb::sdk::Error that names the offending key.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <isb/sdk/plugin.hpp>
#include <optional>
#include <string>

namespace isb::isolation {

//! Parses text as a JSON object; throws Error(status, "<what> ...") otherwise.
boost::json::object parse_object(const std::string& text, isb_status status, const std::string& what);

//! The integer value of v, or nullopt when v is not an integer (doubles with an
//! integral value count as integers).
std::optional<int64_t> as_int(const boost::json::value& v);

//! The numeric value of v, or nullopt when v is not a number.
std::optional<double> as_number(const boost::json::value& v);

//! The string at obj[key], or "" when absent or not a string.
std::string string_at(const boost::json::object& obj, const char* key);

//! Throws sdk::Error(ISB_INVALID_ARGUMENT, message).
[[noreturn]] void invalid(const std::string& message);

inline bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

//! v as a positive integer, or invalid("<name> must be a positive integer").
int64_t positive_int(const boost::json::value& v, const std::string& name);

}  // namespace isb::isolation
