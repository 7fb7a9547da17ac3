// projects.cpp: the table of files the analyzer reads, the grouping of
// manifests into projects, and lockfile resolution (see projects.hpp).
#include "dependencies/projects.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace isb::analyzer::deps {

namespace {

const std::map<std::string, FileKind>& kinds() {
  static const std::map<std::string, FileKind> k{
      {"package.json", {false, "node", parse_package_json}},
      {"package-lock.json", {true, "node", parse_package_lock_json}},
      {"npm-shrinkwrap.json", {true, "node", parse_package_lock_json}},
      {"yarn.lock", {true, "node", parse_yarn_lock}},
      {"pnpm-lock.yaml", {true, "node", parse_pnpm_lock_yaml}},
      {"composer.json", {false, "php", parse_composer_json}},
      {"composer.lock", {true, "php", parse_composer_lock}},
      {"Cargo.toml", {false, "rust", parse_cargo_toml}},
      {"Cargo.lock", {true, "rust", parse_cargo_lock}},
      {"pyproject.toml", {false, "python", parse_pyproject_toml}},
      {"poetry.lock", {true, "python", parse_poetry_or_uv_lock}},
      {"uv.lock", {true, "python", parse_poetry_or_uv_lock}},
      {"pom.xml", {false, "maven", parse_pom_xml}},
      {"packages.lock.json", {true, "dotnet", parse_packages_lock_json}},
      {"go.mod", {false, "go", parse_go_mod}},
      {"go.sum", {true, "go", parse_go_sum}},
      {"Gemfile", {false, "ruby", parse_gemfile}},
      {"Gemfile.lock", {true, "ruby", parse_gemfile_lock}},
      {"CMakeLists.txt", {false, "cmake", parse_cmakelists}},
      {"conanfile.txt", {false, "cmake", parse_conanfile_txt}},
      {"vcpkg.json", {false, "cmake", parse_vcpkg_json}},
      {"mix.exs", {false, "elixir", parse_mix_exs}},
      {"mix.lock", {true, "elixir", parse_mix_lock}},
  };
  return k;
}

// Ecosystems whose workspaces share one lockfile at their root.
bool lock_shared_by_subdirs(std::string_view eco) { return eco == "node" || eco == "rust" || eco == "python"; }

std::string dir_of(const std::string& rel) { return parent_rel(rel); }

// "a/b" relative to "a" is "b"; to "." it is "a/b"; equal dirs give "".
std::string relative_to(const std::string& dir, const std::string& base) {
  if (dir == base) return "";
  if (base == ".") return dir;
  return dir.substr(base.size() + 1);
}

bool is_under(const std::string& dir, const std::string& base) {
  return base == "." || dir == base || (dir.size() > base.size() && dir.compare(0, base.size(), base) == 0 &&
                                        dir[base.size()] == '/');
}

bool has_solution(const std::set<std::string>& files) {
  return std::any_of(files.begin(), files.end(), [](const std::string& f) { return f.ends_with(".sln"); });
}

// The project a manifest belongs to: its directory, except that CMake files
// belong to the topmost CMakeLists.txt above them (one CMake build), and .NET
// project files to the topmost directory with a solution above them (the
// codebase analyzer's .NET project).
std::string project_dir(const std::string& rel, const FileKind& kind, const WalkResult& walk) {
  std::string dir = dir_of(rel);
  const std::string_view eco = kind.project_ecosystem;
  if (eco != "cmake" && eco != "dotnet") return dir;
  std::string top = dir;
  for (std::string d = dir;;) {
    auto it = walk.dirs.find(d);
    if (it != walk.dirs.end() &&
        (eco == "cmake" ? it->second.files.count("CMakeLists.txt") > 0 : has_solution(it->second.files)))
      top = d;
    if (d == ".") break;
    d = parent_rel(d);
  }
  return top;
}

// Picks the lock entry for a declared dependency among those with its name:
// a member's own entries beat shared ones, and an entry that the lockfile
// recorded for this very constraint (or at the pinned version) beats others.
const Locked* pick(const std::vector<const Locked*>& candidates, const Declared& d, const std::string& member) {
  const Locked* best = nullptr;
  int best_score = -1;
  for (const Locked* l : candidates) {
    int score = 0;
    if (!l->member.empty() && l->member != member) continue;
    if (l->member == member && !member.empty()) score += 4;
    if (l->importer) score += 8;
    if (!d.constraint.empty() &&
        std::find(l->ranges.begin(), l->ranges.end(), d.constraint) != l->ranges.end())
      score += 2;
    if (!d.pinned.empty() ? l->version == d.pinned : l->version == d.constraint) score += 2;
    if (score > best_score) best = l, best_score = score;
  }
  return best;
}

}  // namespace

const FileKind* file_kind(const std::string& name) {
  auto it = kinds().find(name);
  if (it != kinds().end()) return &it->second;
  static const FileKind csproj{false, "dotnet", parse_csproj};
  static const FileKind requirements{false, "python", nullptr};
  if (name.size() > 7 && name.ends_with(".csproj")) return &csproj;
  if (name.starts_with("requirements") && name.ends_with(".txt")) return &requirements;
  return nullptr;
}

std::vector<ProjectDependencies> resolve(const std::vector<ParsedFile>& files, const WalkResult& walk) {
  using Key = std::pair<std::string, std::string>;  // path, ecosystem
  std::map<Key, ProjectDependencies> projects;
  std::map<Key, std::vector<const ParsedFile*>> locks;  // by (lockfile dir, ecosystem)
  for (const auto& f : files) {
    const std::string eco = f.kind->project_ecosystem;
    if (f.kind->lockfile) {
      locks[{project_dir(f.rel, *f.kind, walk), eco}].push_back(&f);
      continue;
    }
    Key k{project_dir(f.rel, *f.kind, walk), eco};
    ProjectDependencies& p = projects[k];
    p.path = k.first;
    p.ecosystem = eco;
    p.manifests.push_back(f.rel);
    for (const auto& d : f.facts.declared) {
      Dependency dep;
      dep.ecosystem = d.ecosystem;
      dep.name = d.name;
      dep.constraint = d.constraint;
      dep.resolved = d.pinned;
      dep.marker = d.marker;
      dep.scope = d.scope;
      dep.direct = !d.transitive;
      dep.file = d.file;
      dep.line = d.line;
      dep.project = p.path;
      p.dependencies.push_back(std::move(dep));
    }
  }
  // Lockfiles with no manifest beside them still describe a project there.
  for (const auto& [k, _] : locks)
    if (!projects.count(k)) {
      bool used_by_member = false;
      for (const auto& [pk, p] : projects)
        if (pk.second == k.second && lock_shared_by_subdirs(k.second) && is_under(pk.first, k.first))
          used_by_member = true;
      if (!used_by_member) projects[k] = ProjectDependencies{k.first, k.second, {}, {}, {}, {}, {}};
    }

  // Which projects each lockfile serves: the one beside it, and for shared
  // lockfiles every project below it that has no lockfile of its own.
  std::map<Key, std::vector<Key>> served;
  for (auto& [k, p] : projects) {
    for (std::string d = k.first;;) {
      if (locks.count({d, k.second})) {
        served[{d, k.second}].push_back(k);
        break;
      }
      if (d == "." || !lock_shared_by_subdirs(k.second)) break;
      d = parent_rel(d);
    }
  }

  for (const auto& [lk, users] : served) {
    std::vector<const Locked*> entries;
    std::vector<std::string> lockfile_names;
    for (const ParsedFile* f : locks[lk]) {
      lockfile_names.push_back(f->rel);
      for (const auto& l : f->facts.locked) entries.push_back(&l);
    }
    std::map<std::string, std::vector<const Locked*>> by_name;
    for (const Locked* l : entries)
      if (!l->local) by_name[match_key(l->ecosystem, l->name)].push_back(l);
    std::set<std::pair<std::string, std::string>> picked;  // (key, version) given to a direct dependency
    for (const Key& uk : users) {
      ProjectDependencies& p = projects[uk];
      if (uk == lk) p.lockfiles = lockfile_names;
      const std::string member = relative_to(uk.first, lk.first);
      for (auto& dep : p.dependencies) {
        const std::string key = match_key(dep.ecosystem, dep.name);
        auto it = by_name.find(key);
        if (it == by_name.end()) continue;
        Declared as_declared;
        as_declared.constraint = dep.constraint;
        as_declared.pinned = dep.resolved;
        if (const Locked* l = pick(it->second, as_declared, member); l && !l->version.empty()) {
          dep.resolved = l->version;
          picked.insert({key, l->version});
        }
      }
    }
    // The lockfile's other entries (other names, or other versions of a
    // declared name): what the direct dependencies pull in.
    Key owner = projects.count(lk) ? lk : users.front();
    ProjectDependencies& p = projects[owner];
    std::set<std::pair<std::string, std::string>> seen;
    for (const Locked* l : entries) {
      if (l->local || l->importer) continue;
      const std::string key = match_key(l->ecosystem, l->name);
      if (picked.count({key, l->version}) || !seen.insert({key, l->version}).second) continue;
      Dependency dep;
      dep.ecosystem = l->ecosystem;
      dep.name = l->name;
      dep.resolved = l->version;
      dep.scope = l->scope_known ? l->scope : Scope::kRuntime;
      dep.direct = false;
      dep.file = l->file;
      dep.line = l->line;
      dep.project = p.path;
      p.dependencies.push_back(std::move(dep));
    }
  }

  std::vector<ProjectDependencies> out;
  for (auto& [k, p] : projects) out.push_back(std::move(p));
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& path) { return path == "." ? std::string() : path; };
    return std::make_pair(rank(a.path), a.ecosystem) < std::make_pair(rank(b.path), b.ecosystem);
  });
  return out;
}

}  // namespace isb::analyzer::deps
