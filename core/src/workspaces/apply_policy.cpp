// apply_policy.cpp: see apply_policy.hpp.
#include "workspaces/apply_policy.hpp"

#include <isb/core/workspace_service.hpp>

#include "workspaces/safe_path.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace isb::workspaces {


ApplyPolicy::ApplyPolicy(const SecretPaths& secrets, std::string target, std::vector<std::string> include)
    : secrets_(secrets), target_(std::move(target)), include_(std::move(include)) {
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
}

bool ApplyPolicy::included(const std::string& rel) const {
  for (const auto& p : include_) {
    std::string dir = p;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (rel == dir || rel.rfind(dir + "/", 0) == 0) return true;
    if (::fnmatch(p.c_str(), rel.c_str(), 0) == 0) return true;
  }
  return false;
}

std::optional<std::string> ApplyPolicy::forbidden(const std::string& rel) const {
  if (secrets_.within(rel)) {
    return "a credential or secret (sandbox.secret_paths): never written or deleted by apply_changes";
  }
  if (auto dir = SourcePathPolicy::system_directory(target_ + "/" + rel)) {
    return "inside " + *dir + ", which apply_changes never writes";
  }
  return std::nullopt;
}

std::optional<std::string> ApplyPolicy::withheld(const std::string& rel, bool new_in_target,
                                                 const std::optional<std::string>& link_target) const {
  if (included(rel)) return std::nullopt;
  const auto parts = split_path(rel);
  for (const char* vcs : {".git", ".hg", ".svn"}) {
    if (std::find(parts.begin(), parts.end(), vcs) != parts.end()) {
      return std::string("version-control metadata (") + vcs +
             "/): its config and hooks run on the host; name it in include to apply it";
    }
  }
  if (new_in_target && rel.find('/') == std::string::npos && rel[0] == '.') {
    return "a new dotfile at the top of the target (it could be read by a shell or a tool there); name it in "
           "include to apply it";
  }
  if (link_target && !link_stays_beneath(rel, *link_target)) {
    return "a symlink to '" + *link_target + "', outside the target; name it in include to apply it";
  }
  return std::nullopt;
}

}  // namespace isb::workspaces
