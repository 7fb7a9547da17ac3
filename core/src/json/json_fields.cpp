// json_fields.cpp: reading members of unchecked JSON objects.
#include "json/json_fields.hpp"

namespace isb::json_fields {

std::string string_or(const boost::json::object& o, std::string_view key, std::string_view fallback) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
}

std::string string_or(const boost::json::value& v, std::string_view key, std::string_view fallback) {
  return v.is_object() ? string_or(v.as_object(), key, fallback) : std::string(fallback);
}

bool bool_or(const boost::json::object& o, std::string_view key, bool fallback) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_bool() ? v->as_bool() : fallback;
}

std::optional<int64_t> int_at(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

int64_t int_or(const boost::json::object& o, std::string_view key, int64_t fallback) {
  const boost::json::value* v = o.if_contains(key);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return fallback;
}

const boost::json::object& object_or_empty(const boost::json::object& o, std::string_view key) {
  static const boost::json::object empty;
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : empty;
}

const boost::json::array& array_or_empty(const boost::json::object& o, std::string_view key) {
  static const boost::json::array empty;
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_array() ? v->as_array() : empty;
}

boost::json::value int_or_null(const std::optional<int64_t>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

}  // namespace isb::json_fields
