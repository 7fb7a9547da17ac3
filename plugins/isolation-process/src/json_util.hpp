// json_util.hpp: small helpers to parse and check JSON documents with
// Boost.JSON, failing with an isb::sdk::Error that names the offending key.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <isb/sdk/plugin.hpp>
#include <optional>
#include <string>

namespace isb::process {

//! Parses text as a JSON object; throws Error(status, "<what> ...") otherwise.
boost::json::object parse_object(const std::string& text, isb_status status, const std::string& what);

//! The integer value of v, or nullopt when v is not an integer (doubles with an
//! integral value count as integers).
std::optional<int64_t> as_int(const boost::json::value& v);

//! The numeric value of v, or nullopt when v is not a number.
std::optional<double> as_number(const boost::json::value& v);

}  // namespace isb::process
