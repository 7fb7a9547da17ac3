// apply_policy.hpp: what apply_changes may carry out of a workspace into a
// host directory. The workspace was written by sandboxed code, and what
// lands in a person's checkout can run on the host later (a git hook, a
// core.fsmonitor line, a shell rc file, an executable the next build runs).
// So by default:
//   - secrets (sandbox.secret_paths) are never written nor deleted;
//   - paths inside system directories are never written nor deleted;
//   - VCS metadata (.git/, .hg/, .svn/) is withheld;
//   - a new dotfile at the top of the target is withheld;
//   - a symlink whose target is absolute or climbs out of the target is withheld;
//   - an executable bit the target file did not have is withheld (the file
//     is written without it);
// and the last four go through when the client names the path in include.
//
//   ApplyPolicy policy(secrets, {".git/hooks/pre-commit"});
//   if (auto why = policy.refuse(change_path, ...)) withheld.push_back(...);
//
// Threading: immutable after construction; may be shared.
#pragma once

#include "workspaces/credentials.hpp"

#include <optional>
#include <string>
#include <vector>

namespace isb::workspaces {

class ApplyPolicy {
 public:
  ApplyPolicy(const SecretPaths& secrets, std::string target, std::vector<std::string> include);

  //! True when include names rel: the path itself, a directory above it,
  //! or a glob (fnmatch, "*" also crossing "/") matching it.
  bool included(const std::string& rel) const;
  //! Why rel may not be written or deleted at all (secret, system path):
  //! include cannot override these. nullopt: allowed.
  std::optional<std::string> forbidden(const std::string& rel) const;
  //! Why a change to rel is withheld unless included (VCS metadata, a new
  //! top-level dotfile, a symlink leading out). new_in_target: nothing is at
  //! rel in the target yet; link_target: set for a symlink being written.
  std::optional<std::string> withheld(const std::string& rel, bool new_in_target,
                                      const std::optional<std::string>& link_target) const;

 private:
  const SecretPaths& secrets_;
  std::string target_;
  std::vector<std::string> include_;
};

}  // namespace isb::workspaces
