// ignore_rules.hpp: the .sandboxignore file at a source's root: entries it
// names never enter a workspace (copy mode skips them, overlay mode hides
// them with whiteouts).
//
// Syntax, one pattern per line: blank lines and lines starting with '#' are
// ignored; a trailing '/' matches directories only; a pattern without '/'
// matches the entry's name at any depth; a pattern with '/' matches the
// path from the root (a leading '/' is dropped). Wildcards are fnmatch(3)'s.
//
//   auto rules = IgnoreRules::load("/home/u/project");
//   if (rules.ignored("build/out.o", false)) ...
//
// Threading: immutable after load(); safe to share.
#pragma once

#include <string>
#include <vector>

namespace isb::workspaces {

class IgnoreRules {
 public:
  //! Reads <root>/.sandboxignore; no file means no rules.
  static IgnoreRules load(const std::string& root);
  bool ignored(const std::string& rel, bool is_dir) const;
  bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::string glob;
    bool dir_only = false;
    bool anchored = false;  // contains '/': matched against the whole path
  };
  std::vector<Pattern> patterns_;
};

}  // namespace isb::workspaces
