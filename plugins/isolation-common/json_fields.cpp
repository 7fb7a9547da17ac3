// json_fields.cpp: see json_fields.hpp.
#include "isolation-common/json_fields.hpp"

#include <cmath>

namespace isb::isolation {

boost::json::object parse_object(const std::string& text, isb_status status, const std::string& what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) throw sdk::Error(status, what + " is not valid JSON: " + ec.message());
  if (!v.is_object()) throw sdk::Error(status, what + " must be a JSON object");
  return std::move(v.as_object());
}

std::optional<int64_t> as_int(const boost::json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v.as_uint64());
  if (v.is_double()) {
    double d = v.as_double();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<double> as_number(const boost::json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_double()) return v.as_double();
  return std::nullopt;
}

std::string string_at(const boost::json::object& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

void invalid(const std::string& message) { throw sdk::Error(ISB_INVALID_ARGUMENT, message); }

int64_t positive_int(const boost::json::value& v, const std::string& name) {
  auto n = as_int(v);
  if (!n || *n <= 0) invalid(name + " must be a positive integer");
  return *n;
}

}  // namespace isb::isolation
