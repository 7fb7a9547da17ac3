// source_text.hpp: the text handling the parsers share: lines with their
// numbers, trimming, JSON parsing that reports the failing line, and locating
// a JSON key's line (Boost.JSON keeps no positions).
//
//   for (const Line& l : lines_of(text)) if (l.text.starts_with("require")) ... l.number ...
//   auto doc = parse_json(file, out);  // nullopt + a "file:line: invalid JSON" warning
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dependencies/dependency.hpp"

namespace isb::analyzer::deps {

struct Line {
  std::string_view text;  // without the line break (and without a trailing \r)
  int number = 0;         // 1-based
};

std::vector<Line> lines_of(std::string_view text);
std::string_view trim(std::string_view s);
//! The 1-based line of a byte offset.
int line_at(std::string_view text, size_t offset);
//! The text without surrounding double or single quotes.
std::string_view unquote(std::string_view s);

//! Splits an argument list ("a, 'b, c', key: [:x, :y]") at the commas that
//! are outside quotes and brackets; each part trimmed.
std::vector<std::string_view> split_args(std::string_view s);

//! Parses a JSON document; on error adds "<file>:<line>: invalid JSON: <why>
//! (...)" to out.warnings and returns nullopt. A document that is not an
//! object is also a warning.
std::optional<boost::json::object> parse_json_object(const SourceFile& f, FileFacts& out);

//! The line of "key" inside the object that follows "section" (the first
//! occurrence of each), or 0. Good enough for manifests, whose keys are unique
//! within a section.
int json_key_line(std::string_view text, std::string_view section, std::string_view key);

//! The string value of a JSON member, or "".
std::string json_string(const boost::json::object& o, std::string_view key);

//! "file: what (what to do)" style warning for a file the parser cannot read.
std::string malformed(const SourceFile& f, int line, const std::string& what);

}  // namespace isb::analyzer::deps
