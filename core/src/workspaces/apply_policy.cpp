// apply_policy.cpp: see apply_policy.hpp.
#include "workspaces/apply_policy.hpp"

#include <isb/core/workspace_service.hpp>

#include <fnmatch.h>

namespace isb::workspaces {

namespace {

bool has_component(const std::string& rel, const char* name) {
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    if (rel.compare(start, end - start, name) == 0 && end - start == std::char_traits<char>::length(name)) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool symlink_leaves_tree(const std::string& rel, const std::string& link_target) {
  if (link_target.empty() || link_target[0] == '/') return true;
  // Depth of the directory the link sits in, then walk its text.
  int64_t depth = 0;
  for (char c : rel) depth += c == '/';
  size_t start = 0;
  while (start <= link_target.size()) {
    size_t end = link_target.find('/', start);
    if (end == std::string::npos) end = link_target.size();
    const std::string part = link_target.substr(start, end - start);
    if (part == "..") {
      if (--depth < 0) return true;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return false;
}

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
  for (const char* vcs : {".git", ".hg", ".svn"}) {
    if (has_component(rel, vcs)) {
      return std::string("version-control metadata (") + vcs +
             "/): its config and hooks run on the host; name it in include to apply it";
    }
  }
  if (new_in_target && rel.find('/') == std::string::npos && rel[0] == '.') {
    return "a new dotfile at the top of the target (it could be read by a shell or a tool there); name it in "
           "include to apply it";
  }
  if (link_target && symlink_leaves_tree(rel, *link_target)) {
    return "a symlink to '" + *link_target + "', outside the target; name it in include to apply it";
  }
  return std::nullopt;
}

}  // namespace isb::workspaces
