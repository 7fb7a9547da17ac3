// elixir.cpp: Hex through Mix: the tuples of mix.exs's deps function
// ({:name, "~> 1.0", only: :test}) and mix.lock entries, both line grammars.
#include <cctype>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace {

constexpr const char* kHex = "hex";

Scope scope_of_only(std::string_view only) {
  if (only.find(":prod") != std::string_view::npos) return Scope::kRuntime;
  if (only.find(":test") != std::string_view::npos && only.find(":dev") == std::string_view::npos)
    return Scope::kTest;
  return Scope::kDev;
}

}  // namespace

void parse_mix_exs(const SourceFile& f, FileFacts& out) {
  // The deps list is the body of `defp deps do ... end` (or `def deps`).
  size_t start = f.text.find("defp deps");
  if (start == std::string_view::npos) start = f.text.find("def deps");
  if (start == std::string_view::npos) return;
  const std::string_view text = f.text;
  size_t i = text.find('[', start);
  if (i == std::string_view::npos) return;
  int depth = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '#') {  // comment to end of line
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '[') ++depth;
    if (c == ']' && --depth == 0) return;
    if (c != '{' || depth != 1) continue;
    size_t close = i;
    int braces = 0;
    for (; close < text.size(); ++close) {
      if (text[close] == '{') ++braces;
      if (text[close] == '}' && --braces == 0) break;
    }
    if (close >= text.size()) {
      out.warnings.push_back(malformed(f, line_at(text, i), "unclosed dependency tuple in deps"));
      return;
    }
    std::vector<std::string_view> args = split_args(text.substr(i + 1, close - i - 1));
    const int line = line_at(text, i);
    i = close;
    if (args.empty() || !args[0].starts_with(":")) {
      out.warnings.push_back(malformed(f, line, "a dependency tuple must start with the :atom name"));
      continue;
    }
    Declared d;
    d.ecosystem = kHex;
    d.name = std::string(args[0].substr(1));
    d.file = f.rel;
    d.line = line;
    bool local = false;
    for (size_t k = 1; k < args.size(); ++k) {
      std::string_view a = args[k];
      if (a.starts_with("\"")) d.constraint = std::string(unquote(a));
      else if (a.starts_with("only:")) d.scope = scope_of_only(a);
      else if (a.starts_with("path:") || a.starts_with("in_umbrella:")) local = true;
      else if (a.starts_with("git:") || a.starts_with("github:")) d.constraint = std::string(a);
    }
    if (!local) out.declared.push_back(std::move(d));
  }
}

void parse_mix_lock(const SourceFile& f, FileFacts& out) {
  // "name": {:hex, :name, "1.2.3", "sha", [:mix], [...], "hexpm", "sha"},
  for (const Line& l : lines_of(f.text)) {
    std::string_view t = trim(l.text);
    if (!t.starts_with("\"")) continue;
    size_t q = t.find('"', 1);
    size_t tuple = t.find("{:hex,", q);
    if (q == std::string_view::npos || tuple == std::string_view::npos) continue;  // git and path deps
    std::vector<std::string_view> args = split_args(t.substr(tuple + 1));
    if (args.size() < 3) {
      out.warnings.push_back(malformed(f, l.number, "expected {:hex, :name, \"version\", ...}"));
      continue;
    }
    Locked e;
    e.ecosystem = kHex;
    e.name = std::string(t.substr(1, q - 1));
    e.version = std::string(unquote(args[2]));
    e.file = f.rel;
    e.line = l.number;
    out.locked.push_back(std::move(e));
  }
}

}  // namespace isb::analyzer::deps
