// ignore_rules.cpp: parsing and matching .sandboxignore.
#include "workspaces/ignore_rules.hpp"

#include <fnmatch.h>

#include "workspaces/safe_path.hpp"

#include <sstream>

namespace isb::workspaces {

IgnoreRules IgnoreRules::load(const std::string& root, const std::vector<std::string>& extra_patterns) {
  IgnoreRules rules;
  // Read beneath the root, never through a symlink, and only a file of a
  // size ignore rules have.
  if (auto dir = BeneathRoot::open(root)) {
    if (auto text = dir->read_small(".sandboxignore", 1 << 20)) {
      std::istringstream in(*text);
      for (std::string line; std::getline(in, line);) rules.add(std::move(line));
    }
  }
  for (const auto& p : extra_patterns) rules.add(p);
  return rules;
}

void IgnoreRules::add(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty() || line[0] == '#') return;
  Pattern p;
  if (line.back() == '/') {
    p.dir_only = true;
    line.pop_back();
  }
  if (!line.empty() && line[0] == '/') {
    line.erase(0, 1);
    p.anchored = true;
  }
  if (line.find('/') != std::string::npos) p.anchored = true;
  if (line.empty()) return;
  p.glob = line;
  patterns_.push_back(std::move(p));
}

bool IgnoreRules::ignored(const std::string& rel, bool is_dir) const {
  if (patterns_.empty()) return false;
  auto slash = rel.rfind('/');
  const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  for (const auto& p : patterns_) {
    if (p.dir_only && !is_dir) continue;
    const std::string& subject = p.anchored ? rel : name;
    if (::fnmatch(p.glob.c_str(), subject.c_str(), p.anchored ? FNM_PATHNAME : 0) == 0) return true;
  }
  return false;
}

}  // namespace isb::workspaces
