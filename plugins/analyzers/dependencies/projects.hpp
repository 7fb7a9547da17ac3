// projects.hpp: from parsed manifests and lockfiles to each project's
// dependencies: which files belong to which project, the resolved version of
// every declared dependency (matched by name in the nearest lockfile of its
// ecosystem), and the lockfile-only entries as transitive dependencies.
//
//   std::vector<ParsedFile> files = ...;            // one per manifest or lockfile found
//   DependencyReport r = resolve(files, walk);       // r.projects sorted by path then ecosystem
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/walker.hpp"
#include "dependencies/dependency.hpp"

namespace isb::analyzer::deps {

//! A manifest or lockfile name the analyzer reads, and what it is.
struct FileKind {
  bool lockfile = false;
  const char* project_ecosystem = "";  // the codebase analyzer's name: node, python, rust, ...
  void (*parse)(const SourceFile&, FileFacts&) = nullptr;  // nullptr: requirements files (they include others)
};
//! The kind of a file name, or nullptr when the analyzer does not read it.
const FileKind* file_kind(const std::string& name);

struct ParsedFile {
  std::string rel;
  const FileKind* kind = nullptr;
  FileFacts facts;
};

struct Dependency {
  std::string ecosystem, name, constraint, resolved, marker;
  Scope scope = Scope::kRuntime;
  bool direct = true;
  std::string file;
  int line = 0;
  std::string project;  // the project's path
};

struct Evidence {
  std::string file;
  std::string detail;
  int line = 0;
};

struct Framework {
  std::string name;
  std::string category;  // web | frontend | test | build | gui
  std::string version;   // resolved (or pinned) version of the proving dependency; "" when unknown
  std::vector<Evidence> evidence;
};

struct ProjectDependencies {
  std::string path;       // "." for the root
  std::string ecosystem;  // as the codebase analyzer names it
  std::vector<std::string> manifests, lockfiles;  // relative to the root
  std::vector<Dependency> dependencies;           // direct first (manifest order), then transitive
  std::vector<Framework> frameworks;
  std::string test_framework;  // "" when none
};

//! Groups and resolves. walk gives the tree's listing (for enclosing
//! lockfiles and CMake roots).
std::vector<ProjectDependencies> resolve(const std::vector<ParsedFile>& files, const WalkResult& walk);

//! Fills frameworks and test_framework of every project (frameworks.cpp).
void detect_frameworks(std::vector<ProjectDependencies>& projects, const WalkResult& walk);

}  // namespace isb::analyzer::deps
