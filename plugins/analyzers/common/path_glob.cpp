// path_glob.cpp: a recursive matcher for the glob dialect of path_glob.hpp.
// Patterns are short (a line of .gitignore), so backtracking stays cheap.
#include "common/path_glob.hpp"

namespace isb::analyzer {

namespace {

// Matches a bracket expression at pattern[pi] ('[') against c; sets next to the
// index after the closing ']'. A malformed class (no ']') matches a literal '['.
bool match_class(std::string_view p, size_t pi, char c, size_t& next) {
  size_t i = pi + 1;
  bool negate = false;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) negate = true, ++i;
  bool matched = false;
  const size_t first = i;
  while (i < p.size() && (p[i] != ']' || i == first)) {
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    char hi = lo;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      if (hi == '\\' && i + 3 < p.size()) hi = p[++i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
    ++i;
  }
  if (i >= p.size()) {  // no closing bracket: a literal '['
    next = pi + 1;
    return c == '[';
  }
  next = i + 1;
  return c != '/' && matched != negate;
}

bool match(std::string_view p, size_t pi, std::string_view t, size_t ti) {
  while (pi < p.size()) {
    const char c = p[pi];
    if (c == '*') {
      const bool double_star = pi + 1 < p.size() && p[pi + 1] == '*';
      const bool segment_start = pi == 0 || p[pi - 1] == '/';
      const size_t after = pi + (double_star ? 2 : 1);
      if (double_star && segment_start && (after == p.size() || p[after] == '/')) {
        if (after == p.size()) return true;  // "a/**": everything below
        // "**/": zero or more whole segments, so try at ti and after every '/'.
        for (size_t i = ti;; ++i) {
          if (match(p, after + 1, t, i)) return true;
          i = t.find('/', i);
          if (i == std::string_view::npos) return false;
        }
      }
      size_t rest = after;
      while (rest < p.size() && p[rest] == '*') ++rest;
      for (size_t i = ti;; ++i) {
        if (match(p, rest, t, i)) return true;
        if (i >= t.size() || t[i] == '/') return false;
      }
    }
    if (ti >= t.size()) return false;
    if (c == '?') {
      if (t[ti] == '/') return false;
    } else if (c == '[') {
      size_t next = 0;
      if (!match_class(p, pi, t[ti], next)) return false;
      pi = next;
      ++ti;
      continue;
    } else if (c == '\\' && pi + 1 < p.size()) {
      if (p[++pi] != t[ti]) return false;
    } else if (c != t[ti]) {
      return false;
    }
    ++pi;
    ++ti;
  }
  return ti == t.size();
}

}  // namespace

bool path_glob_match(std::string_view pattern, std::string_view path) { return match(pattern, 0, path, 0); }

bool has_glob_chars(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") != std::string_view::npos;
}

}  // namespace isb::analyzer
