// manifest_text.hpp: reading the text of manifests the way every ecosystem
// detector needs it: lines, trimmed words, JSON and XML documents whose parse
// errors carry the 1-based line, so that warnings can name file and line.
//
//   size_t line = 0;
//   boost::system::error_code ec;
//   json::value v = parse_json_with_line(text, ec, line);   // ec set, line = where it stopped
//   for (const std::string& l : split_lines(text)) ...
#pragma once

#include <boost/json/value.hpp>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace isb::analyzer {

bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
//! s without leading and trailing spaces, tabs and carriage returns.
std::string trim(std::string_view s);
//! The lines of text, without "\n" or a trailing "\r".
std::vector<std::string> split_lines(const std::string& text);
//! The first whitespace-separated word of each line is the key; the rest, trimmed, the value.
//! Used for .tool-versions, rust-toolchain and similar "name value" files.
std::pair<std::string, std::string> split_key_value(std::string_view line);

//! Parses JSON; on error, ec is set and line is the 1-based line where parsing stopped.
boost::json::value parse_json_with_line(const std::string& text, boost::system::error_code& ec, size_t& line);

//! Parses XML into doc; on error returns a message "line N: <reason>", else "".
std::string parse_xml_with_line(const std::string& text, pugi::xml_document& doc);

}  // namespace isb::analyzer
