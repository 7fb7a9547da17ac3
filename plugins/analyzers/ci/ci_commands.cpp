// ci_commands.cpp: YAML walking (yaml-cpp) for the two CI formats and the
// table that says what a command line is for.
#include "ci/ci_commands.hpp"

#include <yaml-cpp/yaml.h>

#include <sstream>

namespace isb::analyzer {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string normalize_dir(std::string d) {
  d = trim(d);
  while (starts_with(d, "./")) d = d.substr(2);
  while (!d.empty() && d.back() == '/') d.pop_back();
  if (d.empty() || d == ".") return ".";
  return d;
}

std::string join_dir(const std::string& base, const std::string& sub) {
  std::string s = normalize_dir(sub);
  if (s == ".") return base;
  if (base == "." || s.front() == '/' || starts_with(s, "$")) return s;
  return base + "/" + s;
}

// Splits a script block into command lines (trailing "\" continues a line),
// keeping the 0-based offset of each line's first physical line.
std::vector<std::pair<int, std::string>> split_script(const std::string& block) {
  std::vector<std::pair<int, std::string>> out;
  std::istringstream in(block);
  std::string line, pending;
  int index = 0, start = 0;
  for (; std::getline(in, line); ++index) {
    if (pending.empty()) start = index;
    std::string t = trim(line);
    if (!t.empty() && t.back() == '\\') {
      t.pop_back();
      pending += trim(t) + " ";
      continue;
    }
    pending += t;
    std::string cmd = trim(pending);
    pending.clear();
    if (!cmd.empty() && cmd[0] != '#') out.emplace_back(start, cmd);
  }
  if (!trim(pending).empty()) out.emplace_back(start, trim(pending));
  return out;
}

// The line where a scalar's content starts: block scalars ("|", ">") begin on
// the line after their indicator.
int content_line(const YAML::Node& node, const std::string& raw_text) {
  const YAML::Mark m = node.Mark();
  int line = m.line + 1;
  if (m.pos >= 0 && static_cast<size_t>(m.pos) < raw_text.size()) {
    char c = raw_text[static_cast<size_t>(m.pos)];
    if (c == '|' || c == '>') ++line;
  }
  return line;
}

void add_script(const YAML::Node& node, const std::string& text, CiCommand base,
                std::vector<CiCommand>& out) {
  if (!node.IsScalar()) return;
  const int first = content_line(node, text);
  for (const auto& [offset, cmd] : split_script(node.as<std::string>())) {
    CiCommand c = base;
    c.line = first + offset;
    c.run = cmd;
    classify_ci_command(c);
    out.push_back(std::move(c));
  }
}

std::string scalar_or(const YAML::Node& n, const std::string& fallback) {
  return n && n.IsScalar() ? n.as<std::string>() : fallback;
}

std::string default_working_dir(const YAML::Node& owner) {
  if (!owner || !owner.IsMap()) return "";
  YAML::Node d = owner["defaults"];
  if (!d || !d.IsMap() || !d["run"] || !d["run"].IsMap()) return "";
  return scalar_or(d["run"]["working-directory"], "");
}

bool parse_yaml(const std::string& file, const std::string& text, YAML::Node& root,
                std::vector<std::string>& warnings) {
  try {
    root = YAML::Load(text);
    return true;
  } catch (const YAML::Exception& e) {
    warnings.push_back(file + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg +
                       " (its CI commands are not listed; fix the file)");
    return false;
  }
}

// Tool prefixes (after an optional "<pm> run"/"python -m") and what they are for.
struct Rule {
  const char* prefix;
  const char* kind;
  const char* ecosystem;
};
constexpr Rule kRules[] = {{"npm ci", "install", "node"},
                           {"npm install", "install", "node"},
                           {"npm i", "install", "node"},
                           {"pnpm install", "install", "node"},
                           {"pnpm i", "install", "node"},
                           {"yarn install", "install", "node"},
                           {"bun install", "install", "node"},
                           {"npm test", "test", "node"},
                           {"npm run test", "test", "node"},
                           {"pnpm test", "test", "node"},
                           {"pnpm run test", "test", "node"},
                           {"yarn test", "test", "node"},
                           {"yarn run test", "test", "node"},
                           {"bun run test", "test", "node"},
                           {"npx jest", "test", "node"},
                           {"npx vitest", "test", "node"},
                           {"npm run build", "build", "node"},
                           {"pnpm run build", "build", "node"},
                           {"pnpm build", "build", "node"},
                           {"yarn build", "build", "node"},
                           {"yarn run build", "build", "node"},
                           {"npm run lint", "lint", "node"},
                           {"pnpm lint", "lint", "node"},
                           {"pnpm run lint", "lint", "node"},
                           {"yarn lint", "lint", "node"},
                           {"npx eslint", "lint", "node"},
                           {"npx prettier", "format", "node"},
                           {"npm run format", "format", "node"},
                           {"pip install", "install", "python"},
                           {"pip3 install", "install", "python"},
                           {"python -m pip install", "install", "python"},
                           {"python3 -m pip install", "install", "python"},
                           {"poetry install", "install", "python"},
                           {"uv sync", "install", "python"},
                           {"pipenv install", "install", "python"},
                           {"pdm install", "install", "python"},
                           {"pytest", "test", "python"},
                           {"python -m pytest", "test", "python"},
                           {"python3 -m pytest", "test", "python"},
                           {"poetry run pytest", "test", "python"},
                           {"uv run pytest", "test", "python"},
                           {"python -m unittest", "test", "python"},
                           {"python3 -m unittest", "test", "python"},
                           {"tox", "test", "python"},
                           {"nox", "test", "python"},
                           {"python -m build", "build", "python"},
                           {"python3 -m build", "build", "python"},
                           {"ruff check", "lint", "python"},
                           {"flake8", "lint", "python"},
                           {"pylint", "lint", "python"},
                           {"mypy", "lint", "python"},
                           {"ruff format", "format", "python"},
                           {"black", "format", "python"},
                           {"go mod download", "install", "go"},
                           {"go build", "build", "go"},
                           {"go test", "test", "go"},
                           {"go vet", "lint", "go"},
                           {"golangci-lint", "lint", "go"},
                           {"gofmt", "format", "go"},
                           {"cargo fetch", "install", "rust"},
                           {"cargo build", "build", "rust"},
                           {"cargo test", "test", "rust"},
                           {"cargo nextest", "test", "rust"},
                           {"cargo clippy", "lint", "rust"},
                           {"cargo fmt", "format", "rust"},
                           {"mvn", "", "maven"},
                           {"./mvnw", "", "maven"},
                           {"./gradlew", "", "gradle"},
                           {"gradle", "", "gradle"},
                           {"cmake --build", "build", "cmake"},
                           {"ctest", "test", "cmake"},
                           {"meson test", "test", "meson"},
                           {"meson compile", "build", "meson"},
                           {"ninja", "build", "cmake"},
                           {"dotnet restore", "install", "dotnet"},
                           {"dotnet build", "build", "dotnet"},
                           {"dotnet test", "test", "dotnet"},
                           {"bundle install", "install", "ruby"},
                           {"bundle exec rspec", "test", "ruby"},
                           {"bundle exec rake", "test", "ruby"},
                           {"bundle exec rubocop", "lint", "ruby"},
                           {"composer install", "install", "php"},
                           {"vendor/bin/phpunit", "test", "php"},
                           {"mix deps.get", "install", "elixir"},
                           {"mix compile", "build", "elixir"},
                           {"mix test", "test", "elixir"},
                           {"mix format", "format", "elixir"}};

bool word_prefix(const std::string& s, const std::string& p) {
  return starts_with(s, p) && (s.size() == p.size() || s[p.size()] == ' ');
}

}  // namespace

void classify_ci_command(CiCommand& c) {
  std::string cmd = c.run;
  // "cd sub && make test": the directory belongs in cwd.
  if (starts_with(cmd, "cd ")) {
    size_t amp = cmd.find("&&");
    if (amp != std::string::npos) {
      c.cwd = join_dir(c.cwd, cmd.substr(3, amp - 3));
      cmd = trim(cmd.substr(amp + 2));
      c.run = cmd;
    }
  }
  // make: "-C DIR" is a working directory, and the first target says what it is for.
  if (word_prefix(cmd, "make")) {
    std::istringstream in(cmd.substr(4));
    std::string target;
    for (std::string w; in >> w;) {
      if (w == "-C" && in >> w) {
        c.cwd = join_dir(c.cwd, w);
      } else if (w[0] != '-' && w.find('=') == std::string::npos) {
        target = w;
        break;
      }
    }
    c.ecosystem = "make";
    c.kind = target.empty() || target == "all" || target == "build" ? "build"
             : target == "test" || target == "check"                ? "test"
             : target == "lint"                                     ? "lint"
             : target == "format" || target == "fmt"                ? "format"
                                                                    : "";
    if (c.kind.empty()) c.ecosystem.clear();
    return;
  }
  for (const Rule& r : kRules) {
    if (!word_prefix(cmd, r.prefix)) continue;
    c.ecosystem = r.ecosystem;
    c.kind = r.kind;
    if (c.kind.empty()) {  // Maven and Gradle: the goal/task says what it is for
      if (cmd.find(" test") != std::string::npos || cmd.find(" verify") != std::string::npos)
        c.kind = "test";
      else if (cmd.find(" package") != std::string::npos || cmd.find(" build") != std::string::npos ||
               cmd.find(" install") != std::string::npos || cmd.find(" assemble") != std::string::npos)
        c.kind = "build";
      else if (cmd.find("go-offline") != std::string::npos)
        c.kind = "install";
    }
    return;
  }
}

void read_github_workflow(const std::string& file, const std::string& text, std::vector<CiCommand>& out,
                          std::vector<std::string>& warnings) {
  YAML::Node root;
  if (!parse_yaml(file, text, root, warnings)) return;
  if (!root.IsMap()) return;
  YAML::Node jobs = root["jobs"];
  if (!jobs || !jobs.IsMap()) return;
  const std::string wf_dir = default_working_dir(root);
  for (const auto& job : jobs) {
    const YAML::Node& j = job.second;
    if (!j.IsMap()) continue;
    std::string job_dir = default_working_dir(j);
    if (job_dir.empty()) job_dir = wf_dir;
    YAML::Node steps = j["steps"];
    if (!steps || !steps.IsSequence()) continue;
    int index = 0;
    for (const auto& step : steps) {
      ++index;
      if (!step.IsMap() || !step["run"]) continue;
      CiCommand base;
      base.file = file;
      base.job = job.first.as<std::string>();
      base.step = scalar_or(step["name"], "step " + std::to_string(index));
      std::string dir = scalar_or(step["working-directory"], job_dir);
      base.cwd = normalize_dir(dir);
      add_script(step["run"], text, base, out);
    }
  }
}

void read_gitlab_ci(const std::string& file, const std::string& text, std::vector<CiCommand>& out,
                    std::vector<std::string>& warnings) {
  YAML::Node root;
  if (!parse_yaml(file, text, root, warnings)) return;
  if (!root.IsMap()) return;
  for (const auto& entry : root) {
    const std::string name = entry.first.as<std::string>();
    const YAML::Node& job = entry.second;
    // Hidden jobs (".template") and global keywords are not jobs.
    if (name.empty() || name[0] == '.' || !job.IsMap() || !job["script"]) continue;
    for (const char* section : {"before_script", "script"}) {
      YAML::Node s = job[section];
      if (!s) continue;
      CiCommand base;
      base.file = file;
      base.job = name;
      base.step = section;
      if (s.IsScalar()) add_script(s, text, base, out);
      if (s.IsSequence())
        for (const auto& line : s) add_script(line, text, base, out);
    }
  }
}

}  // namespace isb::analyzer
