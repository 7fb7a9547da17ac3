// credentials.cpp: the secret paths kept out of workspaces and targets.
#include "workspaces/credentials.hpp"

#include "workspaces/safe_path.hpp"

#include <fnmatch.h>

namespace isb::workspaces {


SecretPaths::SecretPaths(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
  for (const auto& p : patterns_) {
    Pattern c;
    c.negated = !p.empty() && p[0] == '!';
    c.parts = split_path(c.negated ? p.substr(1) : p);
    if (c.parts.empty()) continue;
    if (!c.negated) {
      const std::string& last = c.parts.back();
      if (last.find_first_of("*?[\\") == std::string::npos) {
        last_names_.insert(last);
      } else {
        last_wildcards_.push_back(last);
      }
    }
    compiled_.push_back(std::move(c));
  }
}

bool SecretPaths::could_match(const char* name) const {
  if (last_names_.count(name)) return true;
  for (const auto& w : last_wildcards_) {
    if (::fnmatch(w.c_str(), name, 0) == 0) return true;
  }
  return false;
}

bool SecretPaths::matches(const std::string& rel) const {
  const auto slash = rel.rfind('/');
  if (!could_match(rel.c_str() + (slash == std::string::npos ? 0 : slash + 1))) return false;
  const std::vector<std::string> parts = split_path(rel);
  bool secret = false;
  for (const auto& p : compiled_) {
    if (p.parts.size() > parts.size()) continue;
    const size_t base = parts.size() - p.parts.size();
    bool all = true;
    for (size_t i = 0; all && i < p.parts.size(); ++i) {
      all = ::fnmatch(p.parts[i].c_str(), parts[base + i].c_str(), 0) == 0;
    }
    if (all) secret = !p.negated;
  }
  return secret;
}

bool SecretPaths::within(const std::string& rel) const {
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    if (matches(rel.substr(0, slash))) return true;
  }
  return matches(rel);
}

}  // namespace isb::workspaces
