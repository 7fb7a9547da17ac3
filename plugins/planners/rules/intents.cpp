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

// How a task limits what it asks for: the one table of modifier words (the
// README copies it). An exclusion word followed by a phase word ("skip the
// install", "without building", "don't run the linter") removes that phase,
// asked or implied. A "just"/"only" before or right after a phase word ("just
// run the tests", "tests only") asks for exactly the phases named: nothing is
// implied. "no" binds only to the very next word ("no install"), so that
// "no, run the tests" stays a test request; "or"/"nor" extend an exclusion
// ("without installing or building"), "and" does not.
enum class Modifier { kExclude, kExcludeNextOnly, kOnly };
const std::map<std::string, Modifier> kModifiers = {
    {"skip", Modifier::kExclude},   {"skipping", Modifier::kExclude}, {"without", Modifier::kExclude},
    {"not", Modifier::kExclude},    {"don't", Modifier::kExclude},    {"dont", Modifier::kExclude},
    {"never", Modifier::kExclude},  {"except", Modifier::kExclude},   {"no", Modifier::kExcludeNextOnly},
    {"just", Modifier::kOnly},      {"only", Modifier::kOnly},
};
// Verbs between a modifier and its phase word: "skip running the tests".
const std::set<std::string> kModifierVerbs = {"run", "running", "do", "doing", "execute", "executing"};

std::string lower(std::string s) {
  // A typographic apostrophe (U+2019, as in a pasted "don't") counts as the plain one.
  std::string plain;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s.compare(k, 3, "\xE2\x80\x99") == 0) {
      plain += '\'';
      k += 2;
    } else {
      plain += s[k];
    }
  }
  s = std::move(plain);
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
  // 1. Backtick commands become custom steps and one stand-in word each.
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
  // 3b. "the api package", "the web project": a project's name right
  // before a project noun scopes the plan without "of"/"in".
  for (size_t j = 0; j + 1 < words.size(); ++j) {
    if (used[j] || !kProjectNouns.count(words[j + 1])) continue;
    for (size_t p = 0; p < project_names.size(); ++p) {
      const auto& names = project_names[p];
      if (std::find(names.begin(), names.end(), words[j]) == names.end()) continue;
      if (std::find(result.scope.begin(), result.scope.end(), p) == result.scope.end()) result.scope.push_back(p);
      used[j] = used[j + 1] = true;
    }
  }
  // 4. Modifiers: exclusions and "just"/"only".
  const auto& kw = keywords();
  std::set<Phase> excluded;
  auto phase_word = [&](size_t j) { return j < words.size() && !used[j] && kw.count(words[j]) != 0; };
  for (size_t i = 0; i < words.size(); ++i) {
    if (used[i]) continue;
    auto m = kModifiers.find(words[i]);
    if (m == kModifiers.end()) continue;
    size_t j = next_meaningful(i);
    if (m->second != Modifier::kExcludeNextOnly) {
      while (j < words.size() && (kModifierVerbs.count(words[j]) || kFillers.count(words[j]))) ++j;
    }
    if (m->second == Modifier::kOnly) {
      if (phase_word(j) || (i > 0 && phase_word(i - 1))) {
        result.only_asked = true;
        used[i] = true;
      }
      continue;
    }
    if (m->second == Modifier::kExcludeNextOnly && j != i + 1) continue;
    std::string w = j < words.size() ? words[j] : "";
    if (w == "set" && j + 1 < words.size() && words[j + 1] == "up") {
      excluded.insert(Phase::Install);
      for (size_t k = i; k <= j + 1; ++k) used[k] = true;
    } else if (phase_word(j)) {
      excluded.insert(kw.at(w));
      for (size_t k = i; k <= j; ++k) used[k] = true;
      // "without installing or building": "or"/"nor" carry the exclusion
      // on; "and" does not ("skip the install and run the tests").
      for (size_t k = next_meaningful(j); k < words.size() && (words[k] == "or" || words[k] == "nor");) {
        size_t n = next_meaningful(k);
        if (!phase_word(n)) break;
        excluded.insert(kw.at(words[n]));
        for (size_t u = k; u <= n; ++u) used[u] = true;
        k = next_meaningful(n);
      }
    }
  }
  result.excluded.assign(excluded.begin(), excluded.end());

  // 5. Intents.
  std::set<Phase> found;
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
      while (j < words.size() && (words[j] == "only" || words[j] == "just")) j = next_meaningful(j);
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
  for (Phase p : excluded) found.erase(p);
  result.phases.assign(found.begin(), found.end());  // std::set orders by Phase
  return result;
}

}  // namespace isb::planner
