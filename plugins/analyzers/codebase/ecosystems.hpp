// ecosystems.hpp: project detection (one project per directory and ecosystem)
// and the install/build/test/lint commands backed by facts found in the tree.
// One detector per ecosystem (ecosystems.cpp: Node, Go, Rust, Maven, Gradle,
// CMake, Make; python.cpp; dotnet.cpp; ruby.cpp; php.cpp; elixir.cpp;
// native_builds.cpp: Meson, autotools), then workspaces.cpp links monorepo
// members to their root and toolchain.cpp adds the toolchain version hints.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/walker.hpp"

namespace isb::analyzer {

struct Evidence {
  std::string file;  // relative to the analysed root
  std::string detail;
};

struct Command {
  std::vector<std::string> argv;  // either argv ...
  std::string shell;              // ... or a shell line, never both
  std::string cwd;                // the project path
  std::string source;             // manifest_script | makefile_target | ecosystem_default
  double confidence = 0.5;
  std::vector<Evidence> evidence;
};

//! A toolchain version hint: "20.11.1" from ".nvmrc", ">=3.10" from pyproject.toml's requires-python.
struct ToolVersion {
  std::string version;
  std::string source;  // the file, relative to the analysed root
  std::string field;   // where in the file ("engines.node"), or "" for the whole file
};

struct Project {
  std::string path;  // "." for the root
  std::string ecosystem;
  std::string package_manager;
  std::string package_manager_reason;
  std::vector<std::string> manifests;
  std::vector<std::string> lockfiles;
  std::vector<Evidence> evidence;
  std::vector<std::pair<std::string, Command>> commands;  // kind -> command, in insertion order
  std::string workspace_root;                             // a monorepo member: the root project's path
  std::vector<std::string> members;                       // a monorepo root: its members' paths, sorted
  std::string workspace_file;  // the root's file declaring members (package.json, go.work...)
  std::map<std::string, ToolVersion> toolchain;  // "node", "python", "pnpm", ... -> hint
};

//! The walked tree plus the text of the manifest-like files (see is_manifest_name).
struct TreeView {
  const WalkResult& walk;
  const std::map<std::string, std::string>& contents;  // relative path -> text

  bool has_file(const std::string& dir, const std::string& name) const;
  bool has_dir(const std::string& dir, const std::string& name) const;
  //! The text of dir/name, or nullptr when absent or not kept.
  const std::string* text(const std::string& dir, const std::string& name) const;
};

//! Whether a file's text is needed by project detection (kept after the walk).
bool is_manifest_name(const std::string& name);

//! Confidence levels.
inline constexpr double kConfidenceScript = 0.9;  // manifest_script, makefile_target
inline constexpr double kConfidenceDirect = 0.7;  // ecosystem default with direct evidence
inline constexpr double kConfidenceWeak = 0.5;    // ecosystem default, weaker evidence

//! Builds a command; cwd is the project path.
Command make_command(std::vector<std::string> argv, const std::string& cwd, const char* source,
                     double confidence, std::vector<Evidence> evidence);

//! All projects of the tree, sorted by path then ecosystem.
std::vector<Project> detect_projects(const TreeView& tree, std::vector<std::string>& warnings);

//! Ecosystems detected by a directory's file names alone; each has its own file.
bool has_dotnet_marker(const std::set<std::string>& files);
Project detect_dotnet(const TreeView& tree, const std::string& dir, std::vector<std::string>& warnings);
Project detect_ruby(const TreeView& tree, const std::string& dir);
Project detect_php(const TreeView& tree, const std::string& dir, std::vector<std::string>& warnings);
Project detect_elixir(const TreeView& tree, const std::string& dir);
Project detect_meson(const TreeView& tree, const std::string& dir);
Project detect_autotools(const TreeView& tree, const std::string& dir);

//! Monorepos (workspaces.cpp): npm/yarn/bun "workspaces", pnpm-workspace.yaml,
//! Cargo [workspace] members/exclude and go.work use directives. Sets
//! members/workspace_root, gives members the root's package manager and drops
//! their install command (the root installs for all), and adds a project for a
//! go.work root that has no go.mod of its own.
void link_workspaces(const TreeView& tree, std::vector<Project>& projects,
                     std::vector<std::string>& warnings);

//! Toolchain version hints (toolchain.cpp), per project.
void add_toolchain_hints(const TreeView& tree, Project& project, std::vector<std::string>& warnings);

//! Python (python.cpp). python_dirs: every directory holding a Python marker.
bool has_python_marker(const TreeView& tree, const std::string& dir);
Project detect_python(const TreeView& tree, const std::string& dir, const std::set<std::string>& python_dirs,
                      std::vector<std::string>& warnings);

boost::json::value to_json(const Project& p);

}  // namespace isb::analyzer
