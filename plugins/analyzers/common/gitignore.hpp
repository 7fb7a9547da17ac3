// gitignore.hpp: git's ignore rules (.gitignore files at every level of the
// tree, .git/info/exclude) and the linguist attributes of .gitattributes
// files, with git's semantics so that `git check-ignore` agrees:
//
//   IgnoreRules root(text_of(".gitignore"), "");        // patterns relative to the root
//   IgnoreRules sub(text_of("src/.gitignore"), "src");  // patterns relative to src/
//   // deepest file first: the last matching line of the nearest file decides
//   Verdict v = sub.match("src/gen/x.c", false);        // kNone, kIgnored or kIncluded ("!x")
//
// Patterns: blank lines and "#" comments are skipped; "\#" and "\!" escape;
// trailing spaces are dropped unless escaped; "!" negates; a trailing "/"
// matches directories only; a "/" at the start or in the middle anchors the
// pattern to its file's directory, otherwise it matches the name at any depth
// below; "*", "?", "[...]" never match "/", "**" spans directories
// (common/path_glob.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isb::analyzer {

//! One pattern of a .gitignore or .gitattributes line.
struct PathPattern {
  std::string glob;
  bool negated = false;
  bool dir_only = false;
  bool anchored = false;  // matched against the path relative to the file's directory

  //! Parses a pattern (without attributes); nullopt for blank and comment lines.
  static std::optional<PathPattern> parse(std::string_view line);
  //! rel_path is relative to the analysed root; base is the pattern file's directory ("" for the root).
  bool matches(std::string_view rel_path, std::string_view base, bool is_dir) const;
};

//! The patterns of one ignore file. Immutable after construction; safe to share between threads.
class IgnoreRules {
 public:
  enum class Verdict { kNone, kIgnored, kIncluded };

  IgnoreRules() = default;
  IgnoreRules(std::string_view text, std::string base);

  //! The verdict of the last pattern matching rel_path (relative to the root).
  Verdict match(std::string_view rel_path, bool is_dir) const;
  const std::string& base() const { return base_; }
  bool empty() const { return patterns_.empty(); }

 private:
  std::string base_;
  std::vector<PathPattern> patterns_;
};

//! The linguist overrides of one .gitattributes file: linguist-vendored and
//! linguist-generated set ("attr", "attr=true"), unset ("-attr", "attr=false")
//! or back to unspecified ("!attr"). As git documents, negative patterns are
//! not allowed and a pattern matching a directory does not apply to the files
//! below it (use "dir/**").
class LinguistAttributes {
 public:
  struct Values {
    std::optional<bool> vendored;
    std::optional<bool> generated;
  };

  LinguistAttributes() = default;
  LinguistAttributes(std::string_view text, std::string base, std::vector<std::string>& warnings,
                     const std::string& file);

  //! Applies this file's lines matching rel_path, in order, on top of v
  //! (call for the root file first, then deeper ones, as git does).
  void apply(std::string_view rel_path, Values& v) const;
  //! Whether any line un-vendors files ("-linguist-vendored"), so vendored directories must be entered.
  bool unvendors() const { return unvendors_; }
  bool empty() const { return lines_.empty(); }
  const std::string& base() const { return base_; }

 private:
  struct Line {
    PathPattern pattern;
    Values set;
    bool clear_vendored = false, clear_generated = false;  // "!attr"
  };
  std::string base_;
  std::vector<Line> lines_;
  bool unvendors_ = false;
};

}  // namespace isb::analyzer
