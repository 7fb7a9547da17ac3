// ignore_rules.hpp: the .sandboxignore file at a source's root: entries it
// names never enter a workspace (copy mode skips them, overlay mode hides
// them with whiteouts).
//
// Syntax, one pattern per line: blank lines and lines starting with '#' are
// ignored; a trailing '/' matches directories only; a pattern without '/'
// matches the entry's name at any depth; a pattern with '/' matches the
// path from the root (a leading '/' is dropped). Wildcards are fnmatch(3)'s.
//
// The server's sandbox.copy_excludes are patterns in the same syntax, merged
// with the file's (either one excluding an entry is enough).
//
//   auto rules = IgnoreRules::load("/home/u/project", config.sandbox.copy_excludes);
//   if (rules.ignored("build/out.o", false)) ...
//
// Threading: immutable after load(); safe to share.
#pragma once

#include <string>
#include <vector>

namespace isb::workspaces {

class IgnoreRules {
 public:
  //! Reads <root>/.sandboxignore (no file means no rules from it) and adds
  //! extra_patterns (sandbox.copy_excludes), one pattern per element.
  static IgnoreRules load(const std::string& root, const std::vector<std::string>& extra_patterns = {});
  bool ignored(const std::string& rel, bool is_dir) const;
  bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::string glob;
    bool dir_only = false;
    bool anchored = false;  // contains '/': matched against the whole path
  };
  void add(std::string line);
  std::vector<Pattern> patterns_;
};

}  // namespace isb::workspaces
