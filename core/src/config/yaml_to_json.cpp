// yaml_to_json.cpp: the YAML -> JSON conversion behind plugins.settings.
//
// yaml-cpp does not resolve scalar types; it only says whether a scalar was
// plain (tag "?") or quoted (tag "!"). The YAML 1.2 core schema rules for plain
// scalars are applied here so that `port: 8080` reaches a plugin as a number and
// `port: "8080"` as a string, as a YAML user would expect.
#include "yaml_to_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

namespace isb::config_internal {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Core schema booleans: true|True|TRUE|false|False|FALSE. (yes/no/on/off are
// YAML 1.1 and deliberately stay strings, as in any YAML 1.2 reader.)
std::optional<bool> plain_bool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// Core schema integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+.
std::optional<int64_t> plain_int(std::string_view s) {
  int base = 10;
  bool negative = false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    base = s[1] == 'x' ? 16 : 8;
    s.remove_prefix(2);
  } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
    if (s.empty() || !is_digit(s[0])) return std::nullopt;
  }
  // Parse the magnitude as unsigned so that INT64_MIN still fits after negation.
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (negative) {
    if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
    return static_cast<int64_t>(0 - magnitude);
  }
  if (magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(magnitude);
}

// Core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?.
// .inf and .nan are left as strings because JSON has no way to write them.
std::optional<double> plain_float(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  // from_chars rejects a leading '+', which the grammar above allows.
  if (s[0] == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

void append_scalar(std::string& out, const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() != "?") {  // quoted or explicitly tagged: the author asked for text
    append_json_string(out, text);
    return;
  }
  if (auto b = plain_bool(text)) {
    out += *b ? "true" : "false";
  } else if (auto i = plain_int(text)) {
    out += std::to_string(*i);
  } else if (auto d = plain_float(text)) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
    std::string_view number(buf, end - buf);
    out += number;
    // Keep 2.0 a float: the shortest form "2" would read back as an integer.
    if (number.find_first_of(".e") == std::string_view::npos) out += ".0";
  } else {
    append_json_string(out, text);
  }
}

Error error_at(const YAML::Node& node, const std::string& path, const std::string& file,
               const std::string& what) {
  return make_error(ErrorCode::kInvalidConfig,
                    file + ":" + std::to_string(node.Mark().line + 1) + ": " + path + ": " + what);
}

Status append_node(std::string& out, const YAML::Node& node, const std::string& path,
                   const std::string& file) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out += "null";
      return ok_status();
    case YAML::NodeType::Scalar:
      append_scalar(out, node);
      return ok_status();
    case YAML::NodeType::Sequence: {
      out += '[';
      size_t index = 0;
      for (const auto& item : node) {
        if (index > 0) out += ',';
        auto st = append_node(out, item, path + "[" + std::to_string(index) + "]", file);
        if (!st) return st;
        ++index;
      }
      out += ']';
      return ok_status();
    }
    case YAML::NodeType::Map: {
      out += '{';
      std::set<std::string> seen;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return error_at(kv.first, path, file, "a mapping key must be a plain name, not a list or mapping");
        }
        const std::string& key = kv.first.Scalar();
        if (!seen.insert(key).second) {
          return error_at(kv.first, path + "." + key, file, "duplicate key; remove one of the two");
        }
        if (seen.size() > 1) out += ',';
        append_json_string(out, key);
        out += ':';
        auto st = append_node(out, kv.second, path + "." + key, file);
        if (!st) return st;
      }
      out += '}';
      return ok_status();
    }
  }
  return ok_status();
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;  // UTF-8 passes through unchanged; JSON text is UTF-8
        }
    }
  }
  out += '"';
}

Result<std::string> yaml_to_json(const YAML::Node& node, const std::string& key_path,
                                 const std::string& file_name) {
  std::string out;
  auto st = append_node(out, node, key_path, file_name);
  if (!st) return st.error();
  return out;
}

}  // namespace isb::config_internal
