// manifest_text.cpp: line splitting and line-numbered JSON/XML parsing for the
// ecosystem detectors (see manifest_text.hpp).
#include "codebase/manifest_text.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>

namespace isb::analyzer {

namespace json = boost::json;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::pair<std::string, std::string> split_key_value(std::string_view line) {
  std::string t = trim(line);
  size_t sp = t.find_first_of(" \t");
  if (sp == std::string::npos) return {t, ""};
  return {t.substr(0, sp), trim(std::string_view(t).substr(sp))};
}

json::value parse_json_with_line(const std::string& text, boost::system::error_code& ec, size_t& line) {
  json::stream_parser p;
  size_t used = p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    const auto end = text.begin() + static_cast<std::ptrdiff_t>(std::min(used, text.size()));
    line = 1 + static_cast<size_t>(std::count(text.begin(), end, '\n'));
    return nullptr;
  }
  return p.release();
}

std::string parse_xml_with_line(const std::string& text, pugi::xml_document& doc) {
  pugi::xml_parse_result r = doc.load_buffer(text.data(), text.size());
  if (r) return "";
  const size_t offset = std::min(static_cast<size_t>(std::max<std::ptrdiff_t>(r.offset, 0)), text.size());
  const size_t line = 1 + static_cast<size_t>(std::count(
                              text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
  return "line " + std::to_string(line) + ": " + r.description();
}

}  // namespace isb::analyzer
