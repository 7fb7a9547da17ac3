// go.cpp: Go modules: go.mod require directives (single and blocks, with
// "// indirect") and go.sum, both line grammars.
#include <map>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace {

constexpr const char* kGo = "go";

// "path version [// comment]" -> declared module, or false when malformed.
bool add_require(std::string_view spec, int line, const SourceFile& f, FileFacts& out) {
  bool indirect = false;
  if (size_t c = spec.find("//"); c != std::string_view::npos) {
    indirect = trim(spec.substr(c + 2)).starts_with("indirect");
    spec = trim(spec.substr(0, c));
  }
  size_t sp = spec.find_first_of(" \t");
  if (sp == std::string_view::npos) return false;
  Declared d;
  d.ecosystem = kGo;
  d.name = std::string(unquote(spec.substr(0, sp)));
  d.constraint = std::string(trim(spec.substr(sp)));
  if (d.constraint.empty() || d.constraint.front() != 'v') return false;
  d.transitive = indirect;
  d.file = f.rel;
  d.line = line;
  out.declared.push_back(std::move(d));
  return true;
}

}  // namespace

void parse_go_mod(const SourceFile& f, FileFacts& out) {
  bool in_require = false;
  std::string_view block;  // another block ("replace (", "exclude (") being skipped
  for (const Line& l : lines_of(f.text)) {
    std::string_view t = trim(l.text);
    if (t.empty() || t.starts_with("//")) continue;
    if (in_require || !block.empty()) {
      if (t == ")") {
        in_require = false;
        block = {};
      } else if (in_require && !add_require(t, l.number, f, out)) {
        out.warnings.push_back(malformed(f, l.number, "expected \"module/path vX.Y.Z\" in the require block"));
      }
      continue;
    }
    if (t.starts_with("require")) {
      std::string_view rest = trim(t.substr(7));
      if (rest == "(")
        in_require = true;
      else if (!add_require(rest, l.number, f, out))
        out.warnings.push_back(malformed(f, l.number, "expected \"require module/path vX.Y.Z\""));
    } else if (t.back() == '(') {
      block = t;
    }
  }
}

void parse_go_sum(const SourceFile& f, FileFacts& out) {
  // go.sum keeps hashes of every version ever needed, sorted by module then
  // version; a "/go.mod"-only line means the module's code was never needed.
  // The last version with a code hash is the one the build uses.
  std::map<std::string, Locked> last;
  std::vector<std::string> order;
  for (const Line& l : lines_of(f.text)) {
    std::string_view t = trim(l.text);
    if (t.empty()) continue;
    size_t a = t.find(' ');
    size_t b = a == std::string_view::npos ? a : t.find(' ', a + 1);
    if (b == std::string_view::npos) {
      out.warnings.push_back(malformed(f, l.number, "expected \"module version hash\""));
      out.locked.clear();
      return;
    }
    std::string_view version = t.substr(a + 1, b - a - 1);
    if (version.ends_with("/go.mod")) continue;
    std::string name(t.substr(0, a));
    if (!last.count(name)) order.push_back(name);
    Locked& e = last[name];
    e.ecosystem = kGo;
    e.name = name;
    e.version = std::string(version);
    e.file = f.rel;
    e.line = l.number;
  }
  for (const auto& n : order) out.locked.push_back(std::move(last[n]));
}

}  // namespace isb::analyzer::deps
