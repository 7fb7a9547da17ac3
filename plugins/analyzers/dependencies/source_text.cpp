// source_text.cpp: lines, trimming, JSON with error lines, key lines.
#include "dependencies/source_text.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

namespace isb::analyzer::deps {

namespace json = boost::json;

const char* scope_name(Scope s) {
  switch (s) {
    case Scope::kRuntime:
      return "runtime";
    case Scope::kDev:
      return "dev";
    case Scope::kTest:
      return "test";
    case Scope::kBuild:
      return "build";
    case Scope::kOptional:
      return "optional";
  }
  return "runtime";
}

std::vector<Line> lines_of(std::string_view text) {
  std::vector<Line> out;
  int n = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view l = text.substr(start, end - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back({l, ++n});
    start = end + 1;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int line_at(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::string_view unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split_args(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  char quote = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '(' || c == '{') {
      ++depth;
    } else if (c == ']' || c == ')' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

std::string malformed(const SourceFile& f, int line, const std::string& what) {
  return f.rel + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what +
         " (fix the file; its dependencies are left out of the analysis)";
}

std::optional<json::object> parse_json_object(const SourceFile& f, FileFacts& out) {
  json::stream_parser p;
  boost::system::error_code ec;
  size_t used = p.write_some(f.text.data(), f.text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    out.warnings.push_back(malformed(f, line_at(f.text, used), "invalid JSON: " + ec.message()));
    return std::nullopt;
  }
  json::value v = p.release();
  if (!v.is_object()) {
    out.warnings.push_back(malformed(f, 1, "the document is not a JSON object"));
    return std::nullopt;
  }
  return std::move(v.as_object());
}

namespace {

// The offset just after the first "key" that is followed by a colon, from `from`.
size_t find_json_key(std::string_view text, std::string_view key, size_t from) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  for (size_t pos = text.find(quoted, from); pos != std::string_view::npos; pos = text.find(quoted, pos + 1)) {
    size_t after = pos + quoted.size();
    while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) ++after;
    if (after < text.size() && text[after] == ':') return pos;
  }
  return std::string_view::npos;
}

}  // namespace

int json_key_line(std::string_view text, std::string_view section, std::string_view key) {
  size_t s = section.empty() ? 0 : find_json_key(text, section, 0);
  if (s == std::string_view::npos) return 0;
  size_t k = find_json_key(text, key, s + (section.empty() ? 0 : section.size() + 2));
  return k == std::string_view::npos ? 0 : line_at(text, k);
}

std::string json_string(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string match_key(std::string_view ecosystem, std::string_view name) {
  std::string out;
  out.reserve(name.size());
  if (ecosystem == "pypi") {
    bool sep = false;
    for (char c : name) {
      if (c == '-' || c == '_' || c == '.') {
        sep = true;
        continue;
      }
      if (sep && !out.empty()) out += '-';
      sep = false;
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  }
  if (ecosystem == "nuget" || ecosystem == "packagist" || ecosystem == "cmake" || ecosystem == "conan" ||
      ecosystem == "vcpkg" || ecosystem == "rubygems") {
    for (char c : name) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  return std::string(name);
}

}  // namespace isb::analyzer::deps
