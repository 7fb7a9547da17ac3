// workspaces.cpp: monorepos. A workspace root declares its members with globs
// (package.json "workspaces" as an array or {"packages": [...]},
// pnpm-workspace.yaml "packages", Cargo.toml [workspace] members/exclude,
// go.work use directives); every project of the same ecosystem at a matching
// path becomes a member: workspace_root points at the root, the root lists
// its members.
//
// Members keep cwd = their own path for their commands. Every tool involved
// runs a member's command from the member's directory and still finds the
// workspace (npm 7+, pnpm, yarn and bun select the package in the current
// directory; cargo selects the package whose Cargo.toml is there and shares
// the root's Cargo.lock and target/; go uses go.work from any directory below
// it), whereas the root-side spellings differ per tool (npm --workspace=,
// pnpm --filter, yarn workspace <name>, cargo -p) and would need the package
// name, which a member may not declare.
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>

#include "codebase/ecosystems.hpp"
#include "codebase/manifest_text.hpp"
#include "common/path_glob.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

struct Declaration {
  std::string root;                   // the root directory
  std::string ecosystem;              // members' ecosystem
  std::string file;                   // the declaring file, relative to the analysed root
  std::vector<std::string> includes;  // globs relative to root
  std::vector<std::string> excludes;
};

// "./packages/*/" -> "packages/*"; "." -> "".
std::string normalise_glob(std::string g) {
  g = trim(g);
  while (starts_with(g, "./")) g.erase(0, 2);
  while (g.size() > 1 && g.back() == '/') g.pop_back();
  if (g == ".") g.clear();
  return g;
}

void add_globs(const json::array& a, Declaration& d) {
  for (const auto& v : a) {
    if (!v.is_string()) continue;
    std::string g(v.as_string());
    if (starts_with(g, "!"))
      d.excludes.push_back(normalise_glob(g.substr(1)));
    else
      d.includes.push_back(normalise_glob(g));
  }
}

std::optional<Declaration> node_declaration(const TreeView& tree, const std::string& dir,
                                            std::vector<std::string>& warnings) {
  Declaration d{dir, "node", "", {}, {}};
  if (const std::string* yaml = tree.text(dir, "pnpm-workspace.yaml")) {
    d.file = join_rel(dir, "pnpm-workspace.yaml");
    try {
      YAML::Node doc = YAML::Load(*yaml);
      if (doc["packages"] && doc["packages"].IsSequence())
        for (const auto& n : doc["packages"]) {
          if (!n.IsScalar()) continue;
          std::string g = n.as<std::string>();
          if (starts_with(g, "!"))
            d.excludes.push_back(normalise_glob(g.substr(1)));
          else
            d.includes.push_back(normalise_glob(g));
        }
    } catch (const YAML::Exception& e) {
      warnings.push_back(d.file + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg +
                         " (fix the file; its workspace members are not reported)");
    }
    return d;
  }
  const std::string* text = tree.text(dir, "package.json");
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  size_t line = 0;
  json::value v = parse_json_with_line(*text, ec, line);  // a parse error was reported by detect_node
  if (ec || !v.is_object()) return std::nullopt;
  const json::value* ws = v.as_object().if_contains("workspaces");
  if (!ws) return std::nullopt;
  d.file = join_rel(dir, "package.json");
  if (ws->is_array()) {
    add_globs(ws->as_array(), d);
  } else if (ws->is_object() && ws->as_object().contains("packages") &&
             ws->as_object().at("packages").is_array()) {
    add_globs(ws->as_object().at("packages").as_array(),
              d);  // yarn 1's {"packages": [...], "nohoist": [...]}
  } else {
    warnings.push_back(d.file +
                       ": \"workspaces\" must be an array of globs or an object with a \"packages\" array");
    return std::nullopt;
  }
  return d;
}

std::optional<Declaration> cargo_declaration(const TreeView& tree, const std::string& dir,
                                             std::vector<std::string>& warnings) {
  const std::string* text = tree.text(dir, "Cargo.toml");
  if (!text) return std::nullopt;
  const std::string file = join_rel(dir, "Cargo.toml");
  toml::table t;
  try {
    t = toml::parse(*text, file);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << file << ": invalid TOML: " << e.description() << " (line " << e.source().begin.line << ", column "
        << e.source().begin.column << "; fix the file, its workspace members are not reported)";
    warnings.push_back(msg.str());
    return std::nullopt;
  }
  const toml::table* ws = t["workspace"].as_table();
  if (!ws) return std::nullopt;
  Declaration d{dir, "rust", file, {}, {}};
  for (const char* key : {"members", "exclude"})
    if (const toml::array* a = (*ws)[key].as_array())
      for (const auto& el : *a)
        if (auto s = el.value<std::string>())
          (std::string(key) == "members" ? d.includes : d.excludes).push_back(normalise_glob(*s));
  // A root that is also a package is a member of its own workspace; it stays the root.
  return d;
}

// go.work: "use ./a" or a block "use (\n ./a\n ./b\n)"; comments start with //.
std::optional<Declaration> go_declaration(const TreeView& tree, const std::string& dir) {
  const std::string* text = tree.text(dir, "go.work");
  if (!text) return std::nullopt;
  Declaration d{dir, "go", join_rel(dir, "go.work"), {}, {}};
  bool in_block = false;
  for (const std::string& raw : split_lines(*text)) {
    std::string l = trim(raw.substr(0, raw.find("//")));
    if (l.empty()) continue;
    if (in_block) {
      if (l == ")")
        in_block = false;
      else
        d.includes.push_back(normalise_glob(l));
      continue;
    }
    if (!starts_with(l, "use")) continue;
    std::string rest = trim(std::string_view(l).substr(3));
    if (rest == "(")
      in_block = true;
    else if (!rest.empty())
      d.includes.push_back(normalise_glob(rest));
  }
  return d;
}

// The member path relative to the root, or nullopt when outside it.
std::optional<std::string> relative_to(const std::string& path, const std::string& root) {
  if (root == ".") return path == "." ? std::string() : path;
  if (path == root) return std::string();
  if (starts_with(path, root + "/")) return path.substr(root.size() + 1);
  return std::nullopt;
}

std::optional<std::string> matching_glob(const Declaration& d, const std::string& rel) {
  for (const auto& e : d.excludes)
    if (path_glob_match(e, rel)) return std::nullopt;
  for (const auto& g : d.includes)
    if (path_glob_match(g, rel)) return g;
  return std::nullopt;
}

}  // namespace

void link_workspaces(const TreeView& tree, std::vector<Project>& projects,
                     std::vector<std::string>& warnings) {
  std::vector<Declaration> decls;
  for (const auto& [dir, listing] : tree.walk.dirs) {
    if (listing.files.count("package.json") || listing.files.count("pnpm-workspace.yaml"))
      if (auto d = node_declaration(tree, dir, warnings)) decls.push_back(std::move(*d));
    if (listing.files.count("Cargo.toml"))
      if (auto d = cargo_declaration(tree, dir, warnings)) decls.push_back(std::move(*d));
    if (listing.files.count("go.work"))
      if (auto d = go_declaration(tree, dir)) decls.push_back(std::move(*d));
  }

  for (const Declaration& d : decls) {
    auto root_it = std::find_if(projects.begin(), projects.end(), [&](const Project& p) {
      return p.path == d.root && p.ecosystem == d.ecosystem;
    });
    if (root_it == projects.end()) {
      if (d.ecosystem != "go") continue;
      // A go.work directory needs no module of its own; it is still the root
      // every member's go command resolves through.
      Project root;
      root.path = d.root;
      root.ecosystem = "go";
      root.package_manager = "go";
      root.package_manager_reason = "go.work declares a Go workspace";
      root.manifests = {"go.work"};
      if (tree.has_file(d.root, "go.work.sum")) root.lockfiles.push_back("go.work.sum");
      root.evidence.push_back({d.file, "Go workspace file"});
      projects.push_back(std::move(root));
      root_it = projects.end() - 1;
    }
    const size_t root_index = static_cast<size_t>(root_it - projects.begin());
    std::vector<std::string> members;
    for (size_t i = 0; i < projects.size(); ++i) {
      Project& m = projects[i];
      if (i == root_index || m.ecosystem != d.ecosystem || !m.workspace_root.empty()) continue;
      auto rel = relative_to(m.path, d.root);
      if (!rel || rel->empty()) continue;
      auto glob = matching_glob(d, *rel);
      if (!glob) continue;
      const Project& root = projects[root_index];
      m.workspace_root = root.path;
      m.evidence.push_back({d.file, "workspace member (\"" + *glob + "\")"});
      if (d.ecosystem == "node") {
        m.package_manager = root.package_manager;
        m.package_manager_reason = "workspace member of " + root.path + ": " + root.package_manager_reason;
      }
      // The root installs (and locks) for every member of a Node or Cargo workspace.
      if (d.ecosystem == "node" || d.ecosystem == "rust")
        m.commands.erase(std::remove_if(m.commands.begin(), m.commands.end(),
                                        [](const auto& c) { return c.first == "install"; }),
                         m.commands.end());
      members.push_back(m.path);
    }
    for (const auto& g : d.includes)
      if (!has_glob_chars(g) && !g.empty() &&
          std::none_of(members.begin(), members.end(),
                       [&](const std::string& m) { return relative_to(m, d.root) == g; }))
        warnings.push_back(d.file + ": workspace member \"" + g + "\" has no " + d.ecosystem +
                           " project (check the path; it is not reported)");
    std::sort(members.begin(), members.end());
    Project& root = projects[root_index];
    root.members = std::move(members);
    root.workspace_file = base_name(d.file);
  }
}

}  // namespace isb::analyzer
