// json_fields.hpp: the core's one set of accessors for members of a JSON
// object whose shape was not checked by a schema (plugin replies, stored
// documents) or whose defaults the caller supplies (operation arguments).
// A missing member and one of another type read the same: as the fallback.
//
//   std::string cwd = json_fields::string_or(step, "cwd", ".");
//   std::optional<int64_t> timeout = json_fields::int_at(step, "timeout_s");
//   int64_t limit = json_fields::int_or(args, "limit", 50);
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isb::json_fields {

//! The string member key of o, or fallback.
std::string string_or(const boost::json::object& o, std::string_view key, std::string_view fallback = "");
//! The same for a value that may not be an object at all (then fallback).
std::string string_or(const boost::json::value& v, std::string_view key, std::string_view fallback = "");
//! The boolean member key of o, or fallback.
bool bool_or(const boost::json::object& o, std::string_view key, bool fallback = false);
//! The integer member key of o (int64 or uint64), or nullopt: a fraction is
//! not an integer here.
std::optional<int64_t> int_at(const boost::json::object& o, std::string_view key);
//! A number member key of o as an integer (a fraction truncated), or fallback.
int64_t int_or(const boost::json::object& o, std::string_view key, int64_t fallback);
//! The object member key of o, or an empty object (it lives as long as o,
//! or for ever).
const boost::json::object& object_or_empty(const boost::json::object& o, std::string_view key);
//! The array member key of o, or an empty array (likewise).
const boost::json::array& array_or_empty(const boost::json::object& o, std::string_view key);
//! v, or null when there is none.
boost::json::value int_or_null(const std::optional<int64_t>& v);

}  // namespace isb::json_fields
