// toolchain.cpp: toolchain version hints per project, each with the file (and
// field) it comes from. Version files (.nvmrc, .python-version, .tool-versions,
// rust-toolchain, global.json, ...) are looked up in the project's directory,
// then in each enclosing directory up to the analysed root, because nvm,
// pyenv, asdf, rustup and the dotnet host resolve them that way. Manifest
// fields (package.json engines/packageManager, requires-python, go.mod go and
// toolchain lines, pom.xml properties) come from the project's own manifest.
// When several sources name one tool, the first found in the order of
// add_toolchain_hints wins: the file a version manager reads itself before
// asdf's .tool-versions before a manifest's range.
#include <toml++/toml.h>

#include <boost/json.hpp>
#include <pugixml.hpp>

#include "codebase/ecosystems.hpp"
#include "codebase/manifest_text.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

// The tools that matter to an ecosystem (also the .tool-versions entries taken).
const std::map<std::string, std::vector<std::string>>& tools_of() {
  static const std::map<std::string, std::vector<std::string>> m{
      {"node", {"node", "npm", "pnpm", "yarn", "bun"}},
      {"python", {"python"}},
      {"rust", {"rust"}},
      {"go", {"go"}},
      {"maven", {"java"}},
      {"gradle", {"java"}},
      {"dotnet", {"dotnet"}},
      {"ruby", {"ruby"}},
      {"php", {"php"}},
      {"elixir", {"elixir", "erlang"}}};
  return m;
}

// asdf plugin names that differ from the tool's name here.
std::string asdf_tool(const std::string& name) {
  if (name == "nodejs") return "node";
  if (name == "golang") return "go";
  if (name == "dotnet-core") return "dotnet";
  return name;
}

struct Hints {
  const TreeView& tree;
  Project& project;
  std::vector<std::string>& warnings;

  bool wants(const std::string& tool) const {
    auto it = tools_of().find(project.ecosystem);
    return it != tools_of().end() &&
           std::find(it->second.begin(), it->second.end(), tool) != it->second.end();
  }
  void set(const std::string& tool, std::string version, const std::string& file, std::string field = "") {
    version = trim(version);
    if (version.empty() || !wants(tool) || project.toolchain.count(tool)) return;
    project.toolchain[tool] = ToolVersion{version, file, std::move(field)};
  }
  // The nearest directory, from the project up to the root, holding name.
  std::optional<std::string> nearest(const std::string& name) const {
    for (std::string d = project.path;; d = parent_rel(d)) {
      if (tree.has_file(d, name) && tree.text(d, name)) return d;
      if (d == ".") return std::nullopt;
    }
  }
  // The first non-empty, non-comment line of a one-value version file.
  void version_file(const std::string& tool, const std::string& name) {
    auto d = nearest(name);
    if (!d) return;
    for (const std::string& l : split_lines(*tree.text(*d, name))) {
      std::string v = trim(l.substr(0, l.find('#')));
      if (!v.empty()) return set(tool, v, join_rel(*d, name));
    }
  }
};

void node_manifest_hints(Hints& h) {
  const std::string* text = h.tree.text(h.project.path, "package.json");
  if (!text) return;
  boost::system::error_code ec;
  size_t line = 0;
  json::value v = parse_json_with_line(*text, ec, line);  // detect_node reported a parse error already
  if (ec || !v.is_object()) return;
  const std::string file = join_rel(h.project.path, "package.json");
  // "pnpm@9.1.0+sha512.abc": the version is between "@" and "+".
  if (auto* pm = v.as_object().if_contains("packageManager"); pm && pm->is_string()) {
    std::string spec(pm->as_string());
    size_t at = spec.find('@');
    if (at != std::string::npos)
      h.set(spec.substr(0, at), spec.substr(at + 1, spec.find('+') - at - 1), file, "packageManager");
  }
  if (auto* eng = v.as_object().if_contains("engines"); eng && eng->is_object())
    for (const auto& [tool, range] : eng->as_object())
      if (range.is_string())
        h.set(std::string(tool), std::string(range.as_string()), file, "engines." + std::string(tool));
}

void python_manifest_hints(Hints& h) {
  const std::string* text = h.tree.text(h.project.path, "pyproject.toml");
  if (!text) return;
  try {
    toml::table t = toml::parse(*text);
    if (auto rp = t.at_path("project.requires-python").value<std::string>())
      h.set("python", *rp, join_rel(h.project.path, "pyproject.toml"), "project.requires-python");
    else if (auto py = t.at_path("tool.poetry.dependencies.python").value<std::string>())
      h.set("python", *py, join_rel(h.project.path, "pyproject.toml"), "tool.poetry.dependencies.python");
  } catch (const toml::parse_error&) {
    // detect_python reported it with line and column.
  }
}

void rust_toolchain_files(Hints& h) {
  // rustup: rust-toolchain.toml ([toolchain] channel) wins over the legacy rust-toolchain file.
  if (auto d = h.nearest("rust-toolchain.toml")) {
    const std::string file = join_rel(*d, "rust-toolchain.toml");
    try {
      toml::table t = toml::parse(*h.tree.text(*d, "rust-toolchain.toml"));
      if (auto ch = t.at_path("toolchain.channel").value<std::string>())
        h.set("rust", *ch, file, "toolchain.channel");
    } catch (const toml::parse_error& e) {
      h.warnings.push_back(file + ": invalid TOML: " + std::string(e.description()) + " (line " +
                           std::to_string(e.source().begin.line) +
                           "; the Rust toolchain hint is not reported)");
    }
  }
  if (auto d = h.nearest("rust-toolchain")) {
    const std::string& text = *h.tree.text(*d, "rust-toolchain");
    const std::string file = join_rel(*d, "rust-toolchain");
    if (text.find("[toolchain]") != std::string::npos) {  // the legacy name may hold the TOML form too
      try {
        toml::table t = toml::parse(text);
        if (auto ch = t.at_path("toolchain.channel").value<std::string>())
          h.set("rust", *ch, file, "toolchain.channel");
      } catch (const toml::parse_error&) {
      }
    } else {
      h.version_file("rust", "rust-toolchain");
    }
  }
}

void rust_manifest_hints(Hints& h) {
  if (const std::string* cargo = h.tree.text(h.project.path, "Cargo.toml")) {
    try {
      toml::table t = toml::parse(*cargo);
      if (auto rv = t.at_path("package.rust-version").value<std::string>())
        h.set("rust", *rv, join_rel(h.project.path, "Cargo.toml"), "package.rust-version");
    } catch (const toml::parse_error&) {
      // workspaces.cpp reports it.
    }
  }
}

void go_hints(Hints& h) {
  const std::string* text = h.tree.text(h.project.path, "go.mod");
  if (!text) text = h.tree.text(h.project.path, "go.work");
  if (!text) return;
  const std::string file =
      join_rel(h.project.path, h.tree.text(h.project.path, "go.mod") ? "go.mod" : "go.work");
  std::string go, toolchain;
  for (const std::string& raw : split_lines(*text)) {
    auto [key, value] = split_key_value(raw.substr(0, raw.find("//")));
    if (key == "go") go = value;
    if (key == "toolchain") toolchain = value;
  }
  // The toolchain line names the toolchain to use ("go1.22.1"); the go line the minimum language version.
  if (starts_with(toolchain, "go")) h.set("go", toolchain.substr(2), file, "toolchain");
  h.set("go", go, file, "go");
}

void java_hints(Hints& h) {
  const std::string* text = h.tree.text(h.project.path, "pom.xml");
  if (!text) return;
  pugi::xml_document doc;
  if (!parse_xml_with_line(*text, doc).empty()) return;  // the dependencies analyzer reports malformed poms
  pugi::xml_node props = doc.child("project").child("properties");
  for (const char* key : {"maven.compiler.release", "java.version", "maven.compiler.source"})
    if (pugi::xml_node n = props.child(key)) {
      h.set("java", n.text().as_string(), join_rel(h.project.path, "pom.xml"),
            std::string("properties.") + key);
      return;
    }
}

void dotnet_hints(Hints& h) {
  auto d = h.nearest("global.json");
  if (!d) return;
  const std::string file = join_rel(*d, "global.json");
  boost::system::error_code ec;
  size_t line = 0;
  json::value v = parse_json_with_line(*h.tree.text(*d, "global.json"), ec, line);
  if (ec) {
    h.warnings.push_back(file + ":" + std::to_string(line) + ": invalid JSON: " + ec.message() +
                         " (the .NET SDK version hint is not reported)");
    return;
  }
  if (const json::value* sdk = v.is_object() ? v.as_object().if_contains("sdk") : nullptr;
      sdk && sdk->is_object())
    if (auto* ver = sdk->as_object().if_contains("version"); ver && ver->is_string())
      h.set("dotnet", std::string(ver->as_string()), file, "sdk.version");
}

// asdf's .tool-versions: "nodejs 20.11.1", several versions mean fallbacks: the first counts.
void tool_versions(Hints& h) {
  auto d = h.nearest(".tool-versions");
  if (!d) return;
  for (const std::string& raw : split_lines(*h.tree.text(*d, ".tool-versions"))) {
    auto [name, versions] = split_key_value(raw.substr(0, raw.find('#')));
    if (name.empty() || versions.empty()) continue;
    h.set(asdf_tool(name), versions.substr(0, versions.find_first_of(" \t")), join_rel(*d, ".tool-versions"),
          name);
  }
}

}  // namespace

void add_toolchain_hints(const TreeView& tree, Project& project, std::vector<std::string>& warnings) {
  Hints h{tree, project, warnings};
  const std::string& eco = project.ecosystem;
  // 1. the files each version manager reads itself
  if (eco == "node") h.version_file("node", ".nvmrc"), h.version_file("node", ".node-version");
  if (eco == "python") h.version_file("python", ".python-version");
  if (eco == "ruby") h.version_file("ruby", ".ruby-version");
  if (eco == "rust") rust_toolchain_files(h);
  if (eco == "dotnet") dotnet_hints(h);
  // 2. the go command enforces go.mod's toolchain and go lines whatever asdf installed
  if (eco == "go") go_hints(h);
  // 3. asdf
  tool_versions(h);
  // 4. ranges and properties in the project's manifest
  if (eco == "node") node_manifest_hints(h);
  if (eco == "python") python_manifest_hints(h);
  if (eco == "rust") rust_manifest_hints(h);
  if (eco == "maven") java_hints(h);
}

}  // namespace isb::analyzer
