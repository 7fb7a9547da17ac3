// credentials.hpp: which entries of a tree are the user's credentials and
// secrets. They never enter a workspace (copy, overlay, archive import),
// and apply_changes never writes or deletes them in a target.
//
// A pattern is matched against the last components of a relative path, one
// component per "/"-separated part of the pattern, each with fnmatch(3):
// ".ssh" names a .ssh entry at any depth, ".docker/config.json" a
// config.json inside a .docker directory, ".env.*" every .env.<suffix>. A
// pattern starting with "!" takes an entry back out; the last pattern that
// matches decides, as in .gitignore. The list is sandbox.secret_paths, whose
// defaults are in config.hpp (and docs/configuration.md).
//
//   SecretPaths secrets(config.sandbox.secret_paths);
//   if (secrets.within("home/.ssh/id_rsa")) ...   // true
//
// Threading: immutable after construction; may be shared.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

namespace isb::workspaces {

class SecretPaths {
 public:
  explicit SecretPaths(std::vector<std::string> patterns);

  //! True when the entry rel ("/"-separated, relative) is a secret itself.
  bool matches(const std::string& rel) const;
  //! False when no pattern can match an entry of this name, whatever its
  //! directory: a walk calls it before building the entry's path.
  bool could_match(const char* name) const;
  //! True when rel or any directory above it is a secret (for paths that
  //! arrive whole, such as archive entries or a change set, not by a walk).
  bool within(const std::string& rel) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Pattern {
    std::vector<std::string> parts;
    bool negated = false;
  };
  std::vector<std::string> patterns_;
  std::vector<Pattern> compiled_;
  std::unordered_set<std::string> last_names_;   // last parts without wildcards
  std::vector<std::string> last_wildcards_;      // last parts with them
};

}  // namespace isb::workspaces
