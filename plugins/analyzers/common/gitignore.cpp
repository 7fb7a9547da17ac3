#include "common/gitignore.hpp"

#include <fnmatch.h>

namespace isb::analyzer {

namespace {
std::string trim_trailing_spaces(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}
}  // namespace

GitIgnore::GitIgnore(std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line = trim_trailing_spaces(std::string(text.substr(pos, nl - pos)));
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '!' || line.find("**") != std::string::npos) {
      unsupported_.push_back(line);
      continue;
    }
    Rule r;
    if (line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (!line.empty() && line[0] == '/') {
      r.anchored = true;
      line.erase(0, 1);
    }
    if (line.find('/') != std::string::npos) r.anchored = true;  // git: an inner slash anchors
    if (line.empty()) continue;
    r.glob = line;
    rules_.push_back(std::move(r));
  }
}

bool GitIgnore::ignored(std::string_view rel_path, bool is_dir) const {
  std::string path(rel_path);
  size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  for (const Rule& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    if (r.anchored) {
      if (fnmatch(r.glob.c_str(), path.c_str(), FNM_PATHNAME) == 0) return true;
    } else if (fnmatch(r.glob.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace isb::analyzer
