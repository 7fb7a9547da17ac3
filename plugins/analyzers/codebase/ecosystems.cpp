// ecosystems.cpp: project detection for Node, Go, Rust, Maven, Gradle, CMake and
// Make, the walk over every directory that calls each ecosystem's detector,
// and the JSON form of a project.
#include "codebase/ecosystems.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <optional>
#include <sstream>

#include "codebase/manifest_text.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

bool in_subtree(const std::string& dir, const std::string& root) {
  return root == "." || dir == root || starts_with(dir, root + "/");
}

// ---------------------------------------------------------------- Node

struct NodeLock {
  const char* file;
  const char* pm;
};
constexpr NodeLock kNodeLocks[] = {{"pnpm-lock.yaml", "pnpm"},   {"yarn.lock", "yarn"},
                                   {"bun.lockb", "bun"},         {"bun.lock", "bun"},
                                   {"package-lock.json", "npm"}, {"npm-shrinkwrap.json", "npm"}};

// `npm init` writes "echo \"Error: no test specified\" && exit 1" as the test
// script: a project that never set one up, so no test command to offer.
bool is_npm_default_test_script(const std::string& script) {
  return script.find("no test specified") != std::string::npos && script.find("exit 1") != std::string::npos;
}

Project detect_node(const TreeView& tree, const std::string& dir, std::vector<std::string>& warnings) {
  Project p;
  p.path = dir;
  p.ecosystem = "node";
  p.manifests = {"package.json"};
  const auto& files = tree.walk.dirs.at(dir).files;
  auto rel = [&](const std::string& n) { return join_rel(dir, n); };
  p.evidence.push_back({rel("package.json"), "Node.js package manifest"});

  // Parse package.json; on failure, report a warning and go on with what the tree shows.
  json::object pkg;
  if (const std::string* text = tree.text(dir, "package.json")) {
    boost::system::error_code ec;
    size_t line = 0;
    json::value v = parse_json_with_line(*text, ec, line);
    if (ec)
      warnings.push_back(rel("package.json") + ":" + std::to_string(line) + ": invalid JSON: " +
                         ec.message() + " (fix the file; the project is reported from what the tree shows)");
    else if (!v.is_object())
      warnings.push_back(rel("package.json") + ": not a JSON object");
    else
      pkg = v.as_object();
  }

  std::vector<const NodeLock*> locks;
  for (const auto& l : kNodeLocks)
    if (files.count(l.file)) {
      locks.push_back(&l);
      p.lockfiles.push_back(l.file);
    }

  // Package manager: packageManager field, then a lockfile here, then one in an
  // enclosing directory (workspace root), then npm.
  std::string pm, reason, pm_spec;
  bool workspace_member = false;
  if (auto* f = pkg.if_contains("packageManager"); f && f->is_string()) {
    std::string spec(f->as_string());
    pm_spec = spec;
    std::string name = spec.substr(0, spec.find('@'));
    if (name == "npm" || name == "pnpm" || name == "yarn" || name == "bun") {
      pm = name;
      reason = "package.json packageManager field is \"" + spec + "\"";
    } else {
      warnings.push_back(rel("package.json") + ": unknown packageManager \"" + spec + "\"");
    }
  }
  if (pm.empty() && !locks.empty()) {
    pm = locks.front()->pm;
    reason = std::string(locks.front()->file) + " present";
  }
  if (!locks.empty()) {
    for (const auto* l : locks)
      if (l->pm != std::string(locks.front()->pm)) {
        std::string names;
        for (const auto* x : locks) names += (names.empty() ? "" : ", ") + std::string(x->file);
        warnings.push_back(dir + ": lockfiles of several package managers (" + names + "); using " + pm);
        break;
      }
  }
  if (pm.empty() && dir != ".") {
    for (std::string d = parent_rel(dir);; d = parent_rel(d)) {
      auto it = tree.walk.dirs.find(d);
      if (it != tree.walk.dirs.end())
        for (const auto& l : kNodeLocks)
          if (it->second.files.count(l.file) && pm.empty()) {
            pm = l.pm;
            reason = std::string(l.file) + " in enclosing directory " + d + " (workspace root)";
            workspace_member = true;
          }
      if (!pm.empty() || d == ".") break;
    }
  }
  if (pm.empty()) {
    pm = "npm";
    reason = "no packageManager field and no lockfile; npm is the default";
  }
  p.package_manager = pm;
  p.package_manager_reason = reason;

  // install (a workspace member is installed from its workspace root)
  if (!workspace_member) {
    auto has = [&](const char* f) { return files.count(f) > 0; };
    std::vector<std::string> argv;
    const char* lock = nullptr;
    if (pm == "npm") {
      lock = has("package-lock.json")     ? "package-lock.json"
             : has("npm-shrinkwrap.json") ? "npm-shrinkwrap.json"
                                          : nullptr;
      argv = lock ? std::vector<std::string>{"npm", "ci"} : std::vector<std::string>{"npm", "install"};
    } else if (pm == "pnpm") {
      lock = has("pnpm-lock.yaml") ? "pnpm-lock.yaml" : nullptr;
      argv = lock ? std::vector<std::string>{"pnpm", "install", "--frozen-lockfile"}
                  : std::vector<std::string>{"pnpm", "install"};
    } else if (pm == "yarn") {
      lock = has("yarn.lock") ? "yarn.lock" : nullptr;
      // Yarn 2+ ("berry", known by its packageManager version or .yarnrc.yml)
      // spells the frozen install --immutable; --frozen-lockfile is Yarn 1's.
      const bool berry = has(".yarnrc.yml") || (starts_with(pm_spec, "yarn@") && pm_spec.size() > 5 &&
                                                pm_spec[5] >= '2' && pm_spec[5] <= '9');
      argv = !lock   ? std::vector<std::string>{"yarn", "install"}
             : berry ? std::vector<std::string>{"yarn", "install", "--immutable"}
                     : std::vector<std::string>{"yarn", "install", "--frozen-lockfile"};
    } else {
      lock = has("bun.lockb") ? "bun.lockb" : has("bun.lock") ? "bun.lock" : nullptr;
      argv = lock ? std::vector<std::string>{"bun", "install", "--frozen-lockfile"}
                  : std::vector<std::string>{"bun", "install"};
    }
    Evidence ev = lock ? Evidence{rel(lock), std::string(lock) + " present"}
                       : Evidence{rel("package.json"), "package.json without a lockfile"};
    p.commands.push_back({"install", make_command(argv, dir, "ecosystem_default",
                                                  lock ? kConfidenceDirect : kConfidenceWeak, {ev})});
  }

  // Scripts.
  const json::object* scripts = nullptr;
  if (auto* s = pkg.if_contains("scripts"); s && s->is_object()) scripts = &s->as_object();
  auto script = [&](const char* name) -> std::optional<std::string> {
    if (!scripts) return std::nullopt;
    auto* v = scripts->if_contains(name);
    if (!v || !v->is_string()) return std::nullopt;
    return std::string(v->as_string());
  };
  auto script_cmd = [&](std::vector<std::string> argv, const char* name, const std::string& body) {
    return make_command(std::move(argv), dir, "manifest_script", kConfidenceScript,
                        {{rel("package.json"), std::string("scripts.") + name + ": " + body}});
  };
  if (auto b = script("build"))
    p.commands.push_back({"build", script_cmd({pm, "run", "build"}, "build", *b)});
  if (auto t = script("test")) {
    if (is_npm_default_test_script(*t)) {
      warnings.push_back(rel("package.json") + ": scripts.test is npm's placeholder (" + *t +
                         "); no test command reported");
    } else {
      // "bun test" runs bun's own test runner, not the script.
      std::vector<std::string> argv =
          pm == "bun" ? std::vector<std::string>{"bun", "run", "test"} : std::vector<std::string>{pm, "test"};
      p.commands.push_back({"test", script_cmd(argv, "test", *t)});
    }
  }
  if (auto l = script("lint")) p.commands.push_back({"lint", script_cmd({pm, "run", "lint"}, "lint", *l)});
  return p;
}

// ---------------------------------------------------------------- Go, Rust

Project simple_project(const std::string& dir, const char* eco, const char* pm, const char* reason,
                       const char* manifest, const char* detail, const char* lockfile,
                       const std::set<std::string>& files) {
  Project p;
  p.path = dir;
  p.ecosystem = eco;
  p.package_manager = pm;
  p.package_manager_reason = reason;
  p.manifests = {manifest};
  if (lockfile && files.count(lockfile)) p.lockfiles.push_back(lockfile);
  p.evidence.push_back({join_rel(dir, manifest), detail});
  return p;
}

Project detect_go(const std::string& dir, const std::set<std::string>& files) {
  Project p = simple_project(dir, "go", "go", "go.mod declares a Go module", "go.mod", "Go module manifest",
                             "go.sum", files);
  std::vector<Evidence> ev{{join_rel(dir, "go.mod"), "Go module"}};
  p.commands.push_back(
      {"install", make_command({"go", "mod", "download"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back(
      {"build", make_command({"go", "build", "./..."}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back(
      {"test", make_command({"go", "test", "./..."}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  return p;
}

Project detect_rust(const std::string& dir, const std::set<std::string>& files) {
  Project p = simple_project(dir, "rust", "cargo", "Cargo.toml is a Cargo manifest", "Cargo.toml",
                             "Cargo package manifest", "Cargo.lock", files);
  std::vector<Evidence> ev{{join_rel(dir, "Cargo.toml"), "Cargo manifest"}};
  p.commands.push_back(
      {"install", make_command({"cargo", "fetch"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back(
      {"build", make_command({"cargo", "build"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back(
      {"test", make_command({"cargo", "test"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  return p;
}

// ---------------------------------------------------------------- Maven, Gradle

Project detect_maven(const std::string& dir, const std::set<std::string>& files) {
  Project p = simple_project(dir, "maven", "maven", "pom.xml is a Maven project model", "pom.xml",
                             "Maven project model", nullptr, files);
  const std::string mvn = files.count("mvnw") ? "./mvnw" : "mvn";
  std::vector<Evidence> ev{{join_rel(dir, "pom.xml"), "Maven project model"}};
  if (mvn == "./mvnw") ev.push_back({join_rel(dir, "mvnw"), "Maven wrapper"});
  p.commands.push_back({"install", make_command({mvn, "-B", "dependency:go-offline"}, dir,
                                                "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back({"build", make_command({mvn, "-B", "-DskipTests", "package"}, dir, "ecosystem_default",
                                              kConfidenceDirect, ev)});
  p.commands.push_back(
      {"test", make_command({mvn, "-B", "test"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  return p;
}

Project detect_gradle(const std::string& dir, const std::set<std::string>& files) {
  const char* manifest = files.count("build.gradle.kts") ? "build.gradle.kts" : "build.gradle";
  Project p = simple_project(dir, "gradle", "gradle", "Gradle build script present", manifest,
                             "Gradle build script", nullptr, files);
  for (const char* s : {"settings.gradle", "settings.gradle.kts"})
    if (files.count(s)) p.manifests.push_back(s);
  const bool wrapper = files.count("gradlew") > 0;
  const std::string g = wrapper ? "./gradlew" : "gradle";
  if (wrapper) p.package_manager_reason = "Gradle build script and the gradlew wrapper present";
  std::vector<Evidence> ev{{join_rel(dir, manifest), "Gradle build script"}};
  if (wrapper) ev.push_back({join_rel(dir, "gradlew"), "Gradle wrapper"});
  p.commands.push_back(
      {"build", make_command({g, "build", "-x", "test"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back({"test", make_command({g, "test"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  return p;
}

// ---------------------------------------------------------------- CMake

// A CMake line without its comment, lower-cased, spaces before "(" removed.
std::string cmake_normalise(const std::string& line) {
  std::string s = line.substr(0, line.find('#'));
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      out += ' ';
      continue;
    }
    if (c == '(') {
      while (!out.empty() && out.back() == ' ') out.pop_back();
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return trim(out);
}

std::optional<Evidence> cmake_testing_line(const std::string& rel_file, const std::string& text) {
  auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string n = cmake_normalise(lines[i]);
    if (starts_with(n, "enable_testing(") || starts_with(n, "add_test(") || starts_with(n, "include(ctest"))
      return Evidence{rel_file, "line " + std::to_string(i + 1) + ": " + trim(lines[i])};
  }
  return std::nullopt;
}

Project detect_cmake(const TreeView& tree, const std::string& dir) {
  Project p;
  p.path = dir;
  p.ecosystem = "cmake";
  p.package_manager = "cmake";
  p.package_manager_reason = "CMakeLists.txt: CMake configures and drives the build";
  p.manifests = {"CMakeLists.txt"};
  const std::string top = join_rel(dir, "CMakeLists.txt");
  p.evidence.push_back({top, "top-level CMakeLists.txt"});
  Command build =
      make_command({}, dir, "ecosystem_default", kConfidenceDirect, {{top, "top-level CMakeLists.txt"}});
  build.shell = "cmake -S . -B build && cmake --build build";
  p.commands.push_back({"build", build});

  // Testing may be enabled in the top file or in any nested CMakeLists.txt.
  std::optional<Evidence> testing;
  if (const std::string* t = tree.text(dir, "CMakeLists.txt")) testing = cmake_testing_line(top, *t);
  if (!testing)
    for (const auto& [d, listing] : tree.walk.dirs) {
      if (d == dir || !in_subtree(d, dir) || !listing.files.count("CMakeLists.txt")) continue;
      if (const std::string* t = tree.text(d, "CMakeLists.txt"))
        if ((testing = cmake_testing_line(join_rel(d, "CMakeLists.txt"), *t))) break;
    }
  if (testing)
    p.commands.push_back({"test", make_command({"ctest", "--test-dir", "build", "--output-on-failure"}, dir,
                                               "ecosystem_default", kConfidenceDirect, {*testing})});
  return p;
}

// ---------------------------------------------------------------- Make

// Target names in Makefile order; special targets (".PHONY") and pattern or
// variable targets are left out; variable assignments are not targets.
std::vector<std::string> make_targets(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& line : split_lines(text)) {
    if (line.empty() || line[0] == '\t' || line[0] == '#' || line[0] == '.' || line[0] == ' ') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t eq = line.find('=');
    if (eq != std::string::npos && eq < colon) continue;              // VAR = a:b
    if (colon + 1 < line.size() && line[colon + 1] == '=') continue;  // VAR := x
    if (line.compare(colon, 3, "::=") == 0) continue;                 // VAR ::= x
    std::istringstream names(line.substr(0, colon));
    std::string name;
    while (names >> name) {
      if (name[0] == '.' || name.find_first_of("$%()") != std::string::npos) continue;
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
  }
  return out;
}

std::optional<Project> detect_make(const TreeView& tree, const std::string& dir,
                                   const std::string& makefile) {
  Project p;
  p.path = dir;
  p.ecosystem = "make";
  p.package_manager = "make";
  p.package_manager_reason = makefile + " present";
  p.manifests = {makefile};
  const std::string mf = join_rel(dir, makefile);
  p.evidence.push_back({mf, "Makefile"});
  const std::string* text = tree.text(dir, makefile);
  std::vector<std::string> targets = text ? make_targets(*text) : std::vector<std::string>{};
  auto has = [&](const char* t) { return std::find(targets.begin(), targets.end(), t) != targets.end(); };
  if (!targets.empty())
    p.commands.push_back({"build", make_command({"make"}, dir, "makefile_target", kConfidenceScript,
                                                {{mf, "default target: " + targets.front()}})});
  for (const char* t : {"test", "check"})
    if (has(t)) {
      p.commands.push_back({"test", make_command({"make", t}, dir, "makefile_target", kConfidenceScript,
                                                 {{mf, std::string("target: ") + t}})});
      break;
    }
  if (has("lint"))
    p.commands.push_back({"lint", make_command({"make", "lint"}, dir, "makefile_target", kConfidenceScript,
                                               {{mf, "target: lint"}})});
  return p;
}

}  // namespace

// ---------------------------------------------------------------- common

bool TreeView::has_file(const std::string& dir, const std::string& name) const {
  auto it = walk.dirs.find(dir);
  return it != walk.dirs.end() && it->second.files.count(name) > 0;
}

bool TreeView::has_dir(const std::string& dir, const std::string& name) const {
  auto it = walk.dirs.find(dir);
  return it != walk.dirs.end() && it->second.subdirs.count(name) > 0;
}

const std::string* TreeView::text(const std::string& dir, const std::string& name) const {
  auto it = contents.find(join_rel(dir, name));
  return it == contents.end() ? nullptr : &it->second;
}

bool is_manifest_name(const std::string& name) {
  static const std::set<std::string> names{
      // manifests whose content decides commands
      "package.json", "pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini", "CMakeLists.txt", "Makefile",
      "makefile", "GNUmakefile", "Gemfile", "Gemfile.lock", "Rakefile", "rakefile", "Rakefile.rb",
      "composer.json", "meson.build", "Makefile.in", "pom.xml",
      // workspaces (monorepos)
      "pnpm-workspace.yaml", "Cargo.toml", "go.work", "go.mod",
      // toolchain version hints
      ".nvmrc", ".node-version", ".python-version", ".ruby-version", ".tool-versions", "rust-toolchain",
      "rust-toolchain.toml", "global.json"};
  return names.count(name) > 0 || (starts_with(name, "requirements") && ends_with(name, ".txt")) ||
         ends_with(name, ".csproj") || ends_with(name, ".fsproj") || ends_with(name, ".vbproj");
}

Command make_command(std::vector<std::string> argv, const std::string& cwd, const char* source,
                     double confidence, std::vector<Evidence> evidence) {
  Command c;
  c.argv = std::move(argv);
  c.cwd = cwd;
  c.source = source;
  c.confidence = confidence;
  c.evidence = std::move(evidence);
  return c;
}

std::vector<Project> detect_projects(const TreeView& tree, std::vector<std::string>& warnings) {
  std::set<std::string> python_dirs;
  for (const auto& [dir, listing] : tree.walk.dirs)
    if (has_python_marker(tree, dir)) python_dirs.insert(dir);

  std::vector<Project> out;
  for (const auto& [dir, listing] : tree.walk.dirs) {
    const auto& f = listing.files;
    if (python_dirs.count(dir)) out.push_back(detect_python(tree, dir, python_dirs, warnings));
    if (f.count("package.json")) out.push_back(detect_node(tree, dir, warnings));
    if (f.count("go.mod")) out.push_back(detect_go(dir, f));
    if (f.count("Cargo.toml")) out.push_back(detect_rust(dir, f));
    if (f.count("pom.xml")) out.push_back(detect_maven(dir, f));
    if (f.count("build.gradle") || f.count("build.gradle.kts")) out.push_back(detect_gradle(dir, f));
    // CMake and Meson: nested build files are parts of the topmost one.
    auto topmost = [&](const char* marker) {
      for (std::string d = dir; d != ".";) {
        d = parent_rel(d);
        if (tree.has_file(d, marker)) return false;
      }
      return true;
    };
    if (f.count("CMakeLists.txt") && topmost("CMakeLists.txt")) out.push_back(detect_cmake(tree, dir));
    if (f.count("meson.build") && topmost("meson.build")) out.push_back(detect_meson(tree, dir));
    if (f.count("configure") || f.count("configure.ac") || f.count("configure.in"))
      out.push_back(detect_autotools(tree, dir));
    // .NET: a project file inside a solution's directory tree is built by the solution.
    if (has_dotnet_marker(f)) {
      auto has_solution = [&](const std::string& d) {
        auto it = tree.walk.dirs.find(d);
        if (it == tree.walk.dirs.end()) return false;
        for (const auto& name : it->second.files)
          if (ends_with(name, ".sln")) return true;
        return false;
      };
      bool covered = false;
      if (!has_solution(dir))
        for (std::string d = dir; d != "." && !covered;) {
          d = parent_rel(d);
          covered = has_solution(d);
        }
      if (!covered) out.push_back(detect_dotnet(tree, dir, warnings));
    }
    if (f.count("Gemfile")) out.push_back(detect_ruby(tree, dir));
    if (f.count("composer.json")) out.push_back(detect_php(tree, dir, warnings));
    if (f.count("mix.exs")) out.push_back(detect_elixir(tree, dir));
    // make picks GNUmakefile, then makefile, then Makefile.
    for (const char* mk : {"GNUmakefile", "makefile", "Makefile"})
      if (f.count(mk)) {
        if (auto p = detect_make(tree, dir, mk)) out.push_back(std::move(*p));
        break;
      }
  }
  link_workspaces(tree, out, warnings);
  for (Project& p : out) add_toolchain_hints(tree, p, warnings);
  std::stable_sort(out.begin(), out.end(), [](const Project& a, const Project& b) {
    if (a.path != b.path) {
      if (a.path == ".") return true;
      if (b.path == ".") return false;
      return a.path < b.path;
    }
    return a.ecosystem < b.ecosystem;
  });
  return out;
}

json::value to_json(const Project& p) {
  auto evidence = [](const std::vector<Evidence>& ev) {
    json::array a;
    for (const auto& e : ev) a.push_back(json::object{{"file", e.file}, {"detail", e.detail}});
    return a;
  };
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.push_back(json::string(s));
    return a;
  };
  json::object commands;
  for (const auto& [kind, c] : p.commands) {
    json::object o;
    if (!c.shell.empty())
      o["shell"] = c.shell;
    else
      o["argv"] = strings(c.argv);
    o["cwd"] = c.cwd;
    o["source"] = c.source;
    o["confidence"] = c.confidence;
    o["evidence"] = evidence(c.evidence);
    commands[kind] = std::move(o);
  }
  json::object out{{"path", p.path},
                   {"ecosystem", p.ecosystem},
                   {"package_manager", p.package_manager},
                   {"package_manager_reason", p.package_manager_reason},
                   {"manifests", strings(p.manifests)},
                   {"lockfiles", strings(p.lockfiles)},
                   {"evidence", evidence(p.evidence)},
                   {"commands", std::move(commands)}};
  if (!p.workspace_root.empty()) out["workspace_root"] = p.workspace_root;
  if (!p.members.empty()) {
    out["members"] = strings(p.members);
    out["workspace_file"] = p.workspace_file;
  }
  if (!p.toolchain.empty()) {
    json::object tc;
    for (const auto& [tool, v] : p.toolchain) {
      json::object o{{"version", v.version}, {"source", v.source}};
      if (!v.field.empty()) o["field"] = v.field;
      tc[tool] = std::move(o);
    }
    out["toolchain"] = std::move(tc);
  }
  return out;
}

}  // namespace isb::analyzer
