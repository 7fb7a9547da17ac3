// language.hpp: what the languages analyzer knows about a language (its name
// and comment/string syntax) and how a file's language is decided: well-known
// file name, then extension (with content heuristics for extensions several
// languages share: .h, .m, .ts, .pl, .v), then shebang.
//
//   const Language* lang = detect_language("src/io.h", text);  // "C", "C++" or "Objective-C"
//   LineCounts c = count_lines(*lang, text);
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isb::analyzer {

//! The comment and string syntax of one language, as far as line counting
//! needs it. Immutable; the table lives for the whole process.
struct Language {
  std::string name;
  std::vector<std::string> line_comments;                   // "#", "//", "--", ";"
  std::vector<std::pair<std::string, std::string>> blocks;  // {"/*", "*/"}
  std::string quotes;                                       // characters opening one-line strings
  bool nested_blocks = false;               // block comments nest (Rust, Haskell, OCaml, Swift, D's /+ +/)
  bool triple_quote_comments = false;       // Python: """ and ''' strings count like block comments (as cloc)
  bool line_comment_at_start_only = false;  // the marker counts only as the first thing on a line
  //! Bytes that may start a marker or a string; filled in by the table so the
  //! counter can skip every other byte without comparing markers.
  std::array<bool, 256> starts{};
  //! Bytes that open a one-line string (the characters of `quotes`).
  std::array<bool, 256> quote{};
};

//! The number of languages in the table (documented in the analyzer README).
std::size_t language_count();

//! Every language name, sorted.
std::vector<std::string> language_names();

//! The language of a file, or nullptr when it is not one we know.
const Language* detect_language(const std::string& rel_path, std::string_view content);

struct LineCounts {
  std::uint64_t code = 0;
  std::uint64_t comment = 0;
  std::uint64_t blank = 0;
};

//! Counts lines the way cloc does: a whitespace-only line is blank (also
//! inside a block comment); a line with anything outside comments is code; the
//! rest are comment lines. Comment markers inside strings on the same line are
//! code.
LineCounts count_lines(const Language& lang, std::string_view content);

}  // namespace isb::analyzer
