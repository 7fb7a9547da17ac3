// gitignore.cpp: parsing and matching of .gitignore and .gitattributes lines
// (see gitignore.hpp for the rules).
#include "common/gitignore.hpp"

#include "common/path_glob.hpp"

namespace isb::analyzer {

namespace {

// Drops trailing spaces unless escaped ("a\ " keeps one space), and a CR.
std::string_view trim_trailing(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    if (s.size() >= 2 && s[s.size() - 2] == '\\') break;
    s.remove_suffix(1);
  }
  return s;
}

template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    fn(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

// The path relative to base, or nullopt when rel_path is not below base.
std::optional<std::string_view> below(std::string_view rel_path, std::string_view base) {
  if (base.empty()) return rel_path;
  if (rel_path.size() > base.size() && rel_path.substr(0, base.size()) == base &&
      rel_path[base.size()] == '/')
    return rel_path.substr(base.size() + 1);
  return std::nullopt;
}

}  // namespace

std::optional<PathPattern> PathPattern::parse(std::string_view line) {
  line = trim_trailing(line);
  if (line.empty() || line[0] == '#') return std::nullopt;
  PathPattern p;
  if (line[0] == '!') {
    p.negated = true;
    line.remove_prefix(1);
  } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '!' || line[1] == '#')) {
    line.remove_prefix(1);  // a literal leading "!" or "#"
  }
  if (!line.empty() && line.back() == '/') {
    p.dir_only = true;
    line.remove_suffix(1);
  }
  if (line.find('/') != std::string_view::npos) p.anchored = true;  // at the start or in the middle
  if (!line.empty() && line[0] == '/') line.remove_prefix(1);
  if (line.empty()) return std::nullopt;
  p.glob = std::string(line);
  return p;
}

bool PathPattern::matches(std::string_view rel_path, std::string_view base, bool is_dir) const {
  if (dir_only && !is_dir) return false;
  auto rel = below(rel_path, base);
  if (!rel) return false;
  if (anchored) return path_glob_match(glob, *rel);
  size_t slash = rel->rfind('/');
  return path_glob_match(glob, slash == std::string_view::npos ? *rel : rel->substr(slash + 1));
}

IgnoreRules::IgnoreRules(std::string_view text, std::string base) : base_(std::move(base)) {
  for_each_line(text, [&](std::string_view line) {
    if (auto p = PathPattern::parse(line)) patterns_.push_back(std::move(*p));
  });
}

IgnoreRules::Verdict IgnoreRules::match(std::string_view rel_path, bool is_dir) const {
  for (auto it = patterns_.rbegin(); it != patterns_.rend(); ++it)
    if (it->matches(rel_path, base_, is_dir)) return it->negated ? Verdict::kIncluded : Verdict::kIgnored;
  return Verdict::kNone;
}

LinguistAttributes::LinguistAttributes(std::string_view text, std::string base,
                                       std::vector<std::string>& warnings, const std::string& file)
    : base_(std::move(base)) {
  size_t number = 0;
  for_each_line(text, [&](std::string_view raw) {
    ++number;
    std::string_view s = trim_trailing(raw);
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos || s[b] == '#') return;
    s.remove_prefix(b);
    size_t sp = s.find_first_of(" \t");
    std::string_view pattern = s.substr(0, sp);
    std::string_view attrs = sp == std::string_view::npos ? std::string_view() : s.substr(sp);
    Line line;
    bool relevant = false;
    size_t pos = 0;
    while (pos < attrs.size()) {
      size_t start = attrs.find_first_not_of(" \t", pos);
      if (start == std::string_view::npos) break;
      size_t end = attrs.find_first_of(" \t", start);
      std::string_view a =
          attrs.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      pos = end == std::string_view::npos ? attrs.size() : end;
      std::optional<bool> value = true;
      bool clear = false;
      if (a[0] == '-')
        value = false, a.remove_prefix(1);
      else if (a[0] == '!')
        clear = true, value.reset(), a.remove_prefix(1);
      if (size_t eq = a.find('='); eq != std::string_view::npos) {
        std::string_view v = a.substr(eq + 1);
        a = a.substr(0, eq);
        value = !(v == "false" || v == "0");
      }
      if (a == "linguist-vendored") {
        relevant = true;
        line.set.vendored = value;
        line.clear_vendored = clear;
        if (value == false) unvendors_ = true;
      } else if (a == "linguist-generated") {
        relevant = true;
        line.set.generated = value;
        line.clear_generated = clear;
      }
    }
    if (!relevant) return;
    if (!pattern.empty() && pattern[0] == '!') {
      warnings.push_back(
          file + ":" + std::to_string(number) +
          ": negative patterns are ignored in .gitattributes (git does the same); use -attr to unset");
      return;
    }
    auto p = PathPattern::parse(pattern);
    if (!p) return;
    line.pattern = std::move(*p);
    lines_.push_back(std::move(line));
  });
}

void LinguistAttributes::apply(std::string_view rel_path, Values& v) const {
  for (const Line& l : lines_) {
    // A pattern naming a directory does not reach the files below it.
    if (l.pattern.dir_only || !l.pattern.matches(rel_path, base_, false)) continue;
    if (l.set.vendored) v.vendored = l.set.vendored;
    if (l.clear_vendored) v.vendored.reset();
    if (l.set.generated) v.generated = l.set.generated;
    if (l.clear_generated) v.generated.reset();
  }
}

}  // namespace isb::analyzer
