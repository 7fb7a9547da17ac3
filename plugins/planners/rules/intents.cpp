#include "intents.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace isb::planner {
namespace {

// Stands in for a backtick command inside the word list.
const std::string kCommandToken = "\x01";

const std::map<std::string, Phase>& keywords() {
  static const std::map<std::string, Phase> k = {
      {"install", Phase::Install},     {"installs", Phase::Install},   {"installing", Phase::Install},
      {"installation", Phase::Install}, {"dependencies", Phase::Install}, {"dependency", Phase::Install},
      {"deps", Phase::Install},        {"setup", Phase::Install},
      {"build", Phase::Build},         {"builds", Phase::Build},       {"building", Phase::Build},
      {"compile", Phase::Build},       {"compiles", Phase::Build},     {"compiling", Phase::Build},
      {"compilation", Phase::Build},
      {"format", Phase::Format},       {"formatting", Phase::Format},  {"formatter", Phase::Format},
      {"reformat", Phase::Format},     {"fmt", Phase::Format},
      {"lint", Phase::Lint},           {"linter", Phase::Lint},        {"linters", Phase::Lint},
      {"linting", Phase::Lint},
      {"test", Phase::Test},           {"tests", Phase::Test},         {"testing", Phase::Test},
      {"check", Phase::Test},          {"checks", Phase::Test},
      {"clean", Phase::Clean},         {"cleanup", Phase::Clean},      {"clean-up", Phase::Clean},
      {"run", Phase::Run},             {"start", Phase::Run},          {"serve", Phase::Run},
      {"launch", Phase::Run},          {"execute", Phase::Run},
  };
  return k;
}

// Verbs that only name an intent of their own when they do not introduce
// another one: "run the tests" is test, "check the formatting" is format.
const std::set<std::string> kWeak = {"run", "start", "serve", "launch", "execute", "check", "checks"};
// "run"/"execute" mean the run intent only with one of these objects (or none).
const std::set<std::string> kRunObjects = {"app", "application", "server", "service", "program", "project",
                                           "it", "site", "website", "binary", "cli", "main", "dev", "locally"};
const std::set<std::string> kFillers = {"the", "a", "an", "my", "our", "this", "that", "all", "its", "their"};
const std::set<std::string> kClauseEnds = {"and", "then", "also", "after", "before", "afterwards", "please"};
const std::set<std::string> kScopeWords = {"of", "in", "for", "inside", "under"};
const std::set<std::string> kProjectNouns = {"project", "package", "module", "directory", "folder", "app", "dir"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string normalize_token(std::string t) {
  const std::string lead = "\"'(<[";
  const std::string trail = ",;:!?\"')>]";
  while (!t.empty() && lead.find(t.front()) != std::string::npos) t.erase(t.begin());
  while (!t.empty() && trail.find(t.back()) != std::string::npos) t.pop_back();
  // "tests." ends a sentence, but "." and "./" are paths.
  while (t.size() > 1 && t.back() == '.' && t != "..") t.pop_back();
  return t;
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::Clean: return "clean";
    case Phase::Install: return "install";
    case Phase::Build: return "build";
    case Phase::Format: return "format";
    case Phase::Lint: return "lint";
    case Phase::Test: return "test";
    case Phase::Run: return "run";
    case Phase::Custom: return "custom";
  }
  return "custom";
}

Intents find_intents(const std::string& task, const std::vector<std::vector<std::string>>& project_names) {
  Intents result;
  // 1. Backtick commands become custom steps and one placeholder word each.
  std::string text;
  for (size_t i = 0; i < task.size(); ++i) {
    if (task[i] == '`') {
      size_t end = task.find('`', i + 1);
      if (end != std::string::npos) {
        std::string cmd = task.substr(i + 1, end - i - 1);
        size_t b = cmd.find_first_not_of(" \t\r\n"), e = cmd.find_last_not_of(" \t\r\n");
        if (b != std::string::npos) result.custom_commands.push_back(cmd.substr(b, e - b + 1));
        text += " " + kCommandToken + " ";
        i = end;
        continue;
      }
    }
    text += task[i];
  }
  // 2. Words.
  std::vector<std::string> words;
  {
    std::string cur;
    for (char c : lower(text) + " ") {
      if (std::isspace(static_cast<unsigned char>(c))) {
        std::string w = normalize_token(cur);
        if (!w.empty()) words.push_back(w);
        cur.clear();
      } else {
        cur += c;
      }
    }
  }
  std::vector<bool> used(words.size(), false);
  auto next_meaningful = [&](size_t i) -> size_t {
    size_t j = i + 1;
    while (j < words.size() && kFillers.count(words[j])) ++j;
    return j;
  };
  // 3. Scope: "of X", "in the X project", ...
  for (size_t i = 0; i < words.size(); ++i) {
    if (!kScopeWords.count(words[i])) continue;
    size_t j = next_meaningful(i);
    if (j >= words.size()) continue;
    std::string name = words[j];
    if (name.size() > 2 && name.rfind("./", 0) == 0) name = name.substr(2);
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    for (size_t p = 0; p < project_names.size(); ++p) {
      const auto& names = project_names[p];
      if (std::find(names.begin(), names.end(), name) == names.end()) continue;
      if (std::find(result.scope.begin(), result.scope.end(), p) == result.scope.end()) result.scope.push_back(p);
      for (size_t k = i; k <= j; ++k) used[k] = true;
      if (j + 1 < words.size() && kProjectNouns.count(words[j + 1])) used[j + 1] = true;
    }
  }
  // 4. Intents.
  std::set<Phase> found;
  const auto& kw = keywords();
  for (size_t i = 0; i < words.size(); ++i) {
    if (used[i]) continue;
    const std::string& w = words[i];
    if (w == "set" && i + 1 < words.size() && words[i + 1] == "up") {
      found.insert(Phase::Install);
      ++i;
      continue;
    }
    auto it = kw.find(w);
    if (it == kw.end()) continue;
    if (kWeak.count(w)) {
      size_t j = next_meaningful(i);
      std::string next = j < words.size() ? words[j] : "";
      bool introduces_other = next == kCommandToken || (kw.count(next) && !kWeak.count(next)) ||
                              (next == "set" && j + 1 < words.size() && words[j + 1] == "up");
      if (introduces_other) continue;
      if ((w == "run" || w == "execute") && !next.empty() && !kRunObjects.count(next) && !kClauseEnds.count(next) &&
          !(j < used.size() && used[j])) {
        continue;  // "run the benchmarks": not something this planner knows
      }
    }
    found.insert(it->second);
  }
  result.phases.assign(found.begin(), found.end());  // std::set orders by Phase
  return result;
}

}  // namespace isb::planner
