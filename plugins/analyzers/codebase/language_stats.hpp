// language_stats.hpp: language detection (extension, well-known file name,
// shebang) and code/comment/blank line counting.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isb::analyzer::codebase {

//! The comment and string syntax of one language, as far as line counting needs it.
struct Language {
  std::string name;
  std::vector<std::string> line_comments;                    // "#", "//", "--", ";"
  std::vector<std::pair<std::string, std::string>> blocks;   // {"/*", "*/"}, checked before line comments
  std::string quotes;                                        // characters opening one-line strings
  bool python_docstrings = false;  // triple-quoted strings at statement start are comments
};

struct LineCounts {
  std::uint64_t code = 0;
  std::uint64_t comment = 0;
  std::uint64_t blank = 0;
};

//! The language of a file, or nullptr when it is not one we know.
const Language* detect_language(const std::string& rel_path, std::string_view content);

//! Counts lines: a line with code and a comment counts as code; comment markers
//! inside "..." / '...' strings on the same line are not comments.
LineCounts count_lines(const Language& lang, std::string_view content);

struct LanguageTotals {
  std::string name;
  std::uint64_t files = 0;
  std::uint64_t code = 0;
  std::uint64_t comment = 0;
  std::uint64_t blank = 0;
  std::uint64_t bytes = 0;
};

//! Accumulates per-language totals over many files.
class LanguageStats {
 public:
  //! Returns false when the file's language is unknown (the file is not counted).
  bool add(const std::string& rel_path, std::string_view content);
  //! Sorted by code lines descending, then by name.
  std::vector<LanguageTotals> sorted() const;

 private:
  std::map<std::string, LanguageTotals> totals_;
};

}  // namespace isb::analyzer::codebase
