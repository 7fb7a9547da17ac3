// gitignore.hpp: the subset of .gitignore that the analyzers honour.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace isb::analyzer {

//! Patterns from one root .gitignore. Supported: name globs (*, ?, [...]) that
//! match at any depth, "dir/" patterns that match directories only, patterns
//! anchored to the root by a leading "/" or by an inner "/". Negations ("!")
//! and "**" are not supported and are reported through unsupported().
class GitIgnore {
 public:
  GitIgnore() = default;
  explicit GitIgnore(std::string_view text);

  //! rel_path is relative to the root, with "/" separators and no leading "./".
  bool ignored(std::string_view rel_path, bool is_dir) const;

  const std::vector<std::string>& unsupported() const { return unsupported_; }
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    std::string glob;
    bool dir_only = false;
    bool anchored = false;
  };
  std::vector<Rule> rules_;
  std::vector<std::string> unsupported_;
};

}  // namespace isb::analyzer
