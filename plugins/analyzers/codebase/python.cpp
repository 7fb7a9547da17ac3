// python.cpp: Python projects (pyproject.toml via toml++, requirements files,
// setup.py/setup.cfg, Pipfile) and their package manager and commands.
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include "codebase/ecosystems.hpp"

namespace isb::analyzer {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

bool is_requirements_file(const std::string& name) {
  return starts_with(name, "requirements") && ends_with(name, ".txt");
}

// The normalised distribution name of a PEP 508 requirement ("PyTest[x]>=7" -> "pytest").
std::string requirement_name(const std::string& req) {
  std::string out;
  size_t i = 0;
  while (i < req.size() && std::isspace(static_cast<unsigned char>(req[i]))) ++i;
  for (; i < req.size(); ++i) {
    char c = req[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
      out += static_cast<char>(c == '_' || c == '.' ? '-' : std::tolower(static_cast<unsigned char>(c)));
    else
      break;
  }
  return out;
}

// Lines of text, trimmed.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t b = line.find_first_not_of(" \t\r");
    size_t e = line.find_last_not_of(" \t\r");
    out.push_back(b == std::string::npos ? "" : line.substr(b, e - b + 1));
  }
  return out;
}

// Whether an INI-style file has a section header "[name]".
bool ini_has_section(const std::string& text, const std::string& section) {
  for (const auto& l : lines_of(text))
    if (l == "[" + section + "]") return true;
  return false;
}

// Looks for pytest in a TOML array of requirement strings.
bool array_lists_pytest(const toml::node* n) {
  const toml::array* arr = n ? n->as_array() : nullptr;
  if (!arr) return false;
  for (const auto& el : *arr)
    if (auto s = el.value<std::string>(); s && requirement_name(*s) == "pytest") return true;
  return false;
}

// Where pytest is declared as a dependency in pyproject.toml, or "".
std::string pyproject_pytest_dependency(const toml::table& t) {
  if (array_lists_pytest(t.at_path("project.dependencies").node())) return "project.dependencies";
  if (const toml::table* opt = t.at_path("project.optional-dependencies").as_table())
    for (const auto& [k, v] : *opt)
      if (array_lists_pytest(&v)) return "project.optional-dependencies." + std::string(k.str());
  if (const toml::table* groups = t.at_path("dependency-groups").as_table())
    for (const auto& [k, v] : *groups)
      if (array_lists_pytest(&v)) return "dependency-groups." + std::string(k.str());
  if (const toml::table* deps = t.at_path("tool.poetry.dependencies").as_table();
      deps && deps->contains("pytest"))
    return "tool.poetry.dependencies";
  if (const toml::table* deps = t.at_path("tool.poetry.dev-dependencies").as_table();
      deps && deps->contains("pytest"))
    return "tool.poetry.dev-dependencies";
  if (const toml::table* groups = t.at_path("tool.pdm.dev-dependencies").as_table())
    for (const auto& [k, v] : *groups)
      if (array_lists_pytest(&v)) return "tool.pdm.dev-dependencies." + std::string(k.str());
  if (const toml::table* groups = t.at_path("tool.poetry.group").as_table())
    for (const auto& [k, v] : *groups)
      if (const toml::table* g = v.as_table())
        if (const toml::table* deps = (*g)["dependencies"].as_table(); deps && deps->contains("pytest"))
          return "tool.poetry.group." + std::string(k.str()) + ".dependencies";
  return {};
}

struct TestFile {
  std::string rel;
  bool is_dir = false;
};

bool is_python_test_file(const std::string& name) {
  return ends_with(name, ".py") && (starts_with(name, "test_") || ends_with(name, "_test.py"));
}

// The first Python test file (or tests/ directory) of the project at dir, not
// counting directories that belong to a nested Python project.
std::optional<TestFile> find_test_file(const TreeView& tree, const std::string& dir,
                                       const std::set<std::string>& python_dirs) {
  std::optional<TestFile> tests_dir;
  for (const auto& [d, listing] : tree.walk.dirs) {
    if (dir != "." && d != dir && !starts_with(d, dir + "/")) continue;
    bool foreign = false;
    for (std::string p = d; p != dir && p != "."; p = parent_rel(p))
      if (python_dirs.count(p)) foreign = true;
    if (foreign) continue;
    for (const auto& f : listing.files)
      if (is_python_test_file(f)) return TestFile{join_rel(d, f), false};
    if (!tests_dir && listing.subdirs.count("tests")) tests_dir = TestFile{join_rel(d, "tests") + "/", true};
  }
  return tests_dir;
}

}  // namespace

bool has_python_marker(const TreeView& tree, const std::string& dir) {
  auto it = tree.walk.dirs.find(dir);
  if (it == tree.walk.dirs.end()) return false;
  for (const auto& f : it->second.files)
    if (f == "pyproject.toml" || f == "setup.py" || f == "setup.cfg" || f == "Pipfile" ||
        is_requirements_file(f))
      return true;
  return false;
}

Project detect_python(const TreeView& tree, const std::string& dir, const std::set<std::string>& python_dirs,
                      std::vector<std::string>& warnings) {
  Project p;
  p.path = dir;
  p.ecosystem = "python";
  const auto& files = tree.walk.dirs.at(dir).files;
  auto rel = [&](const std::string& name) { return join_rel(dir, name); };

  for (const char* m : {"pyproject.toml", "setup.py", "setup.cfg", "Pipfile"})
    if (files.count(m)) p.manifests.push_back(m);
  for (const auto& f : files)
    if (is_requirements_file(f)) p.manifests.push_back(f);
  for (const char* l : {"poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock"})
    if (files.count(l)) p.lockfiles.push_back(l);
  for (const auto& m : p.manifests) p.evidence.push_back({rel(m), "Python project manifest"});

  // pyproject.toml
  std::optional<toml::table> pyproject;
  if (const std::string* text = tree.text(dir, "pyproject.toml")) {
    try {
      pyproject = toml::parse(*text, rel("pyproject.toml"));
    } catch (const toml::parse_error& e) {
      std::ostringstream msg;
      msg << rel("pyproject.toml") << ": invalid TOML: " << e.description() << " (line "
          << e.source().begin.line << ", column " << e.source().begin.column << ")";
      warnings.push_back(msg.str());
    }
  }
  const bool has_project_table = pyproject && (*pyproject)["project"].is_table();
  const bool has_poetry_table = pyproject && pyproject->at_path("tool.poetry").is_table();

  // Package manager.
  if (files.count("poetry.lock")) {
    p.package_manager = "poetry";
    p.package_manager_reason = "poetry.lock present";
  } else if (files.count("uv.lock")) {
    p.package_manager = "uv";
    p.package_manager_reason = "uv.lock present";
  } else if (files.count("pdm.lock")) {
    p.package_manager = "pdm";
    p.package_manager_reason = "pdm.lock present";
  } else if (files.count("Pipfile.lock")) {
    p.package_manager = "pipenv";
    p.package_manager_reason = "Pipfile.lock present";
  } else if (files.count("Pipfile")) {
    p.package_manager = "pipenv";
    p.package_manager_reason = "Pipfile present";
  } else if (has_poetry_table) {
    p.package_manager = "poetry";
    p.package_manager_reason = "pyproject.toml has a [tool.poetry] table";
  } else if (pyproject && pyproject->at_path("tool.pdm").is_table()) {
    p.package_manager = "pdm";
    p.package_manager_reason = "pyproject.toml has a [tool.pdm] table";
  } else if (pyproject && pyproject->at_path("tool.uv").is_table()) {
    p.package_manager = "uv";
    p.package_manager_reason = "pyproject.toml has a [tool.uv] table";
  } else {
    p.package_manager = "pip";
    p.package_manager_reason = "no lockfile of another manager; pip is the default";
  }
  const std::string& pm = p.package_manager;
  auto lock_evidence = [&](const char* lock, const char* fallback) {
    return files.count(lock) ? Evidence{rel(lock), std::string(lock) + " present"}
                             : Evidence{rel(fallback), std::string(fallback) + " present"};
  };

  // install
  if (pm == "poetry") {
    p.commands.push_back(
        {"install", make_command({"poetry", "install"}, dir, "ecosystem_default", kConfidenceDirect,
                                 {lock_evidence("poetry.lock", "pyproject.toml")})});
  } else if (pm == "uv") {
    p.commands.push_back({"install", make_command({"uv", "sync"}, dir, "ecosystem_default", kConfidenceDirect,
                                                  {lock_evidence("uv.lock", "pyproject.toml")})});
  } else if (pm == "pdm") {
    p.commands.push_back(
        {"install", make_command({"pdm", "install"}, dir, "ecosystem_default", kConfidenceDirect,
                                 {lock_evidence("pdm.lock", "pyproject.toml")})});
  } else if (pm == "pipenv") {
    p.commands.push_back(
        {"install", make_command({"pipenv", "install", "--dev"}, dir, "ecosystem_default", kConfidenceDirect,
                                 {lock_evidence("Pipfile.lock", "Pipfile")})});
  } else if (files.count("requirements.txt")) {
    p.commands.push_back(
        {"install",
         make_command({"python3", "-m", "pip", "install", "-r", "requirements.txt"}, dir, "ecosystem_default",
                      kConfidenceDirect, {{rel("requirements.txt"), "pip requirements file"}})});
  } else if (has_project_table) {
    p.commands.push_back(
        {"install",
         make_command({"python3", "-m", "pip", "install", "-e", "."}, dir, "ecosystem_default",
                      kConfidenceDirect, {{rel("pyproject.toml"), "[project] table declares the package"}})});
  } else if (files.count("setup.py")) {
    p.commands.push_back(
        {"install", make_command({"python3", "-m", "pip", "install", "-e", "."}, dir, "ecosystem_default",
                                 kConfidenceDirect, {{rel("setup.py"), "setuptools setup script"}})});
  }

  // build
  if (pyproject && (*pyproject)["build-system"].is_table()) {
    std::string backend = pyproject->at_path("build-system.build-backend").value_or(std::string{});
    p.commands.push_back(
        {"build",
         make_command({"python3", "-m", "build"}, dir, "ecosystem_default", kConfidenceDirect,
                      {{rel("pyproject.toml"), backend.empty() ? "[build-system] table present"
                                                               : "[build-system] uses " + backend}})});
  }

  // test: pytest configuration, then pytest as a dependency, then unittest files.
  std::optional<Evidence> pytest;
  if (files.count("pytest.ini")) {
    pytest = Evidence{rel("pytest.ini"), "pytest configuration file"};
  } else if (pyproject && pyproject->at_path("tool.pytest.ini_options").is_table()) {
    pytest = Evidence{rel("pyproject.toml"), "[tool.pytest.ini_options] configures pytest"};
  } else if (files.count("conftest.py")) {
    pytest = Evidence{rel("conftest.py"), "pytest conftest.py"};
  } else if (const std::string* cfg = tree.text(dir, "setup.cfg");
             cfg && ini_has_section(*cfg, "tool:pytest")) {
    pytest = Evidence{rel("setup.cfg"), "[tool:pytest] section configures pytest"};
  } else if (const std::string* tox = tree.text(dir, "tox.ini"); tox && ini_has_section(*tox, "pytest")) {
    pytest = Evidence{rel("tox.ini"), "[pytest] section configures pytest"};
  } else if (std::string where = pyproject ? pyproject_pytest_dependency(*pyproject) : ""; !where.empty()) {
    pytest = Evidence{rel("pyproject.toml"), "pytest listed in " + where};
  } else {
    for (const auto& f : files) {
      if (!is_requirements_file(f)) continue;
      const std::string* text = tree.text(dir, f);
      if (!text) continue;
      for (const auto& l : lines_of(*text))
        if (!l.empty() && l[0] != '#' && l[0] != '-' && requirement_name(l) == "pytest")
          pytest = Evidence{rel(f), "pytest listed as a requirement"};
      if (pytest) break;
    }
  }
  std::vector<std::string> runner;  // prefix running inside the manager's environment
  if (pm == "poetry") runner = {"poetry", "run"};
  if (pm == "uv") runner = {"uv", "run"};
  if (pm == "pipenv") runner = {"pipenv", "run"};
  if (pm == "pdm") runner = {"pdm", "run"};
  auto with_runner = [&](std::vector<std::string> tail_for_pip, std::vector<std::string> tail_in_env) {
    if (runner.empty()) return tail_for_pip;
    std::vector<std::string> argv = runner;
    argv.insert(argv.end(), tail_in_env.begin(), tail_in_env.end());
    return argv;
  };
  if (pytest) {
    p.commands.push_back({"test", make_command(with_runner({"python3", "-m", "pytest"}, {"pytest"}), dir,
                                               "ecosystem_default", kConfidenceDirect, {*pytest})});
  } else if (auto tf = find_test_file(tree, dir, python_dirs)) {
    Evidence ev{tf->rel, tf->is_dir ? "tests directory found, no pytest configuration"
                                    : "unittest test module found, no pytest configuration"};
    p.commands.push_back({"test", make_command(with_runner({"python3", "-m", "unittest", "discover", "-v"},
                                                           {"python", "-m", "unittest", "discover", "-v"}),
                                               dir, "ecosystem_default", kConfidenceWeak, {ev})});
  }
  return p;
}

}  // namespace isb::analyzer
