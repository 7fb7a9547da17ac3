#include "plan_builder.hpp"

#include "intents.hpp"

#include <isb/sdk/plugin.hpp>

#include <boost/json.hpp>
#include <map>
#include <optional>

namespace isb::planner {
namespace {

namespace json = boost::json;

[[noreturn]] void invalid(const std::string& m) { throw sdk::Error(ISB_INVALID_ARGUMENT, m); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Project {
  size_t index;
  std::string path;
  std::string ecosystem;
  const json::object* commands = nullptr;
};

//! The analysis key(s) that hold the command of a phase.
std::vector<const char*> command_keys(Phase p) {
  switch (p) {
    case Phase::Format: return {"format", "fmt"};
    default: return {phase_name(p)};
  }
}

std::string title(Phase p, const Project& pr) {
  std::string who = pr.path + (pr.ecosystem.empty() ? "" : " (" + pr.ecosystem + ")");
  switch (p) {
    case Phase::Clean: return "Clean " + who;
    case Phase::Install: return "Install the dependencies of " + who;
    case Phase::Build: return "Build " + who;
    case Phase::Format: return "Format the code of " + who;
    case Phase::Lint: return "Lint " + who;
    case Phase::Test: return "Run the tests of " + who;
    case Phase::Run: return "Run " + who;
    case Phase::Custom: return "Run a command in " + who;
  }
  return who;
}

//! Copies argv or shell of a command into step; throws when it has neither.
void copy_command(const json::value& cmd, const std::string& where, json::object& step) {
  if (!cmd.is_object()) invalid(where + " must be an object with argv or shell");
  const json::object& c = cmd.as_object();
  if (auto* argv = c.if_contains("argv")) {
    if (!argv->is_array() || argv->as_array().empty()) invalid(where + ".argv must be a non-empty array of strings");
    for (const auto& a : argv->as_array()) {
      if (!a.is_string()) invalid(where + ".argv must be a non-empty array of strings");
    }
    step["argv"] = *argv;
  } else if (auto* shell = c.if_contains("shell")) {
    if (!shell->is_string() || shell->as_string().empty()) invalid(where + ".shell must be a non-empty string");
    step["shell"] = *shell;
  } else {
    invalid(where + " has neither argv nor shell");
  }
}

}  // namespace

std::string build_plan(const std::string& request_json) {
  boost::system::error_code ec;
  json::value req = json::parse(request_json, ec);
  if (ec) invalid("the plan request is not valid JSON: " + ec.message());
  if (!req.is_object()) invalid("the plan request must be a JSON object with task and analysis");
  const json::object& r = req.as_object();
  const json::value* task_v = r.if_contains("task");
  if (!task_v || !task_v->is_string()) invalid("the plan request needs \"task\": a sentence saying what to do");
  std::string task(task_v->as_string());
  if (task.find_first_not_of(" \t\r\n") == std::string::npos) invalid("the task is empty");
  if (auto* o = r.if_contains("options"); o && !o->is_object() && !o->is_null()) invalid("options must be an object");

  // Projects of the analysis.
  std::vector<Project> projects;
  if (const json::value* a = r.if_contains("analysis"); a && !a->is_null()) {
    if (!a->is_object()) invalid("analysis must be an object");
    if (const json::value* ps = a->as_object().if_contains("projects"); ps && !ps->is_null()) {
      if (!ps->is_array()) invalid("analysis.projects must be an array");
      for (size_t i = 0; i < ps->as_array().size(); ++i) {
        const json::value& pv = ps->as_array()[i];
        std::string where = "analysis.projects[" + std::to_string(i) + "]";
        if (!pv.is_object()) invalid(where + " must be an object");
        const json::object& po = pv.as_object();
        Project p{i, ".", "", nullptr};
        if (auto* path = po.if_contains("path")) {
          if (!path->is_string()) invalid(where + ".path must be a string");
          p.path = std::string(path->as_string());
        }
        if (auto* eco = po.if_contains("ecosystem"); eco && eco->is_string()) p.ecosystem = eco->as_string();
        if (auto* cmds = po.if_contains("commands"); cmds && !cmds->is_null()) {
          if (!cmds->is_object()) invalid(where + ".commands must be an object");
          p.commands = &cmds->as_object();
        }
        projects.push_back(std::move(p));
      }
    }
  }

  // Names each project can be called by in the task.
  std::vector<std::vector<std::string>> names;
  for (const auto& p : projects) {
    std::vector<std::string> n;
    std::string path = p.path;
    if (path.size() > 2 && path.rfind("./", 0) == 0) path = path.substr(2);
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    n.push_back(lower(path));
    if (auto slash = path.rfind('/'); slash != std::string::npos && slash + 1 < path.size()) {
      n.push_back(lower(path.substr(slash + 1)));
    }
    const json::object& po = req.as_object().at("analysis").as_object().at("projects").as_array()[p.index].as_object();
    if (auto* name = po.if_contains("name"); name && name->is_string() && !name->as_string().empty()) {
      n.push_back(lower(std::string(name->as_string())));
    }
    names.push_back(std::move(n));
  }

  Intents intents = find_intents(task, names);
  if (intents.phases.empty() && intents.custom_commands.empty()) {
    throw sdk::Error(ISB_NOT_SUPPORTED,
                     "found no intent in the task \"" + task +
                         "\"; say clean, install, build, test, lint, format, run, or give a command in backticks");
  }
  std::vector<const Project*> in_scope;
  for (const auto& p : projects) {
    if (intents.scope.empty() ||
        std::find(intents.scope.begin(), intents.scope.end(), p.index) != intents.scope.end()) {
      in_scope.push_back(&p);
    }
  }

  // Implied phases: tests of ecosystems whose test runner only runs what the
  // build produced (ctest, meson test) need the build first. Only the
  // projects that need it get the implied step, and only when the analysis
  // has their build command.
  auto has_command = [](const Project* p, Phase ph) {
    if (!p->commands) return false;
    for (const char* k : command_keys(ph)) {
      if (auto* c = p->commands->if_contains(k); c && !c->is_null()) return true;
    }
    return false;
  };
  auto needs_build_for_tests = [&](const Project* p) {
    return (p->ecosystem == "cmake" || p->ecosystem == "meson") && has_command(p, Phase::Test) &&
           has_command(p, Phase::Build);
  };
  std::vector<Phase> phases = intents.phases;
  bool build_implied = false;
  if (std::find(phases.begin(), phases.end(), Phase::Test) != phases.end() &&
      std::find(phases.begin(), phases.end(), Phase::Build) == phases.end()) {
    for (const Project* p : in_scope) build_implied = build_implied || needs_build_for_tests(p);
    if (build_implied) {
      phases.push_back(Phase::Build);
      std::sort(phases.begin(), phases.end());
    }
  }

  json::array steps, unmet, intent_names, implied;
  std::vector<std::string> previous_phase_ids;
  for (Phase phase : phases) {
    const bool is_implied = build_implied && phase == Phase::Build;
    if (is_implied) implied.push_back(phase_name(phase));
    else intent_names.push_back(phase_name(phase));
    std::vector<std::string> ids;
    for (const Project* p : in_scope) {
      if (!p->commands) continue;
      if (is_implied && !needs_build_for_tests(p)) continue;
      const json::value* cmd = nullptr;
      std::string key;
      for (const char* k : command_keys(phase)) {
        if ((cmd = p->commands->if_contains(k))) {
          key = k;
          break;
        }
      }
      if (!cmd || cmd->is_null()) continue;
      std::string fact = "projects[" + std::to_string(p->index) + "].commands." + key;
      json::object step;
      std::string id = std::string(phase_name(phase)) + "-" + std::to_string(ids.size() + 1);
      step["id"] = id;
      step["title"] = title(phase, *p);
      step["phase"] = phase_name(phase);
      copy_command(*cmd, "analysis." + fact, step);
      const json::object& c = cmd->as_object();
      // A command's own cwd (relative to the workspace) wins over the project path.
      const json::value* cwd = c.if_contains("cwd");
      step["cwd"] = cwd && cwd->is_string() ? json::value(cwd->as_string()) : json::value(p->path);
      step["timeout_s"] = nullptr;
      json::array deps;
      for (const auto& d : previous_phase_ids) deps.push_back(json::value(d));
      step["depends_on"] = std::move(deps);
      step["continue_on_error"] = false;
      json::object prov{{"project", p->path}, {"fact", fact}};
      const json::value* source = c.if_contains("source");
      prov["source"] = source ? *source : json::value(nullptr);
      if (const json::value* conf = c.if_contains("confidence")) prov["confidence"] = *conf;
      const json::value* ev = c.if_contains("evidence");
      prov["evidence"] = ev && ev->is_array() ? *ev : json::value(json::array{});
      if (is_implied) prov["implied_by"] = "test";
      step["provenance"] = std::move(prov);
      steps.push_back(std::move(step));
      ids.push_back(id);
    }
    if (ids.empty()) {
      json::array available;
      for (const Project* p : in_scope) {
        if (!p->commands) continue;
        for (const auto& [k, v] : *p->commands) available.push_back(json::value(std::string(k) + " (" + p->path + ")"));
      }
      std::string what = std::string(phase_name(phase)) + " command";
      std::string reason;
      if (projects.empty()) {
        reason = "the analysis found no projects";
      } else if (!intents.scope.empty()) {
        std::string list;
        for (const Project* p : in_scope) list += (list.empty() ? "" : ", ") + p->path;
        reason = (in_scope.size() == 1 ? "project '" + list + "' has no " : "no project of " + list + " has a ") + what;
      } else {
        reason = "no project has a " + what;
      }
      unmet.push_back(json::object{{"intent", phase_name(phase)}, {"reason", reason}, {"available", available}});
    } else {
      previous_phase_ids = ids;
    }
  }

  // Commands given in backticks run last, one after the other, as written.
  if (!intents.custom_commands.empty()) {
    intent_names.push_back("custom");
    const Project* where = in_scope.size() == 1 && !intents.scope.empty() ? in_scope[0] : nullptr;
    for (size_t i = 0; i < intents.custom_commands.size(); ++i) {
      const std::string& cmd = intents.custom_commands[i];
      std::string id = "custom-" + std::to_string(i + 1);
      json::array deps;
      for (const auto& d : previous_phase_ids) deps.push_back(json::value(d));
      json::object step{
          {"id", id},
          {"title", "Run `" + cmd + "`" + (where ? " in " + where->path : std::string())},
          {"phase", "custom"},
          {"shell", cmd},
          {"cwd", where ? where->path : "."},
          {"timeout_s", nullptr},
          {"depends_on", std::move(deps)},
          {"continue_on_error", false},
          {"provenance",
           json::object{{"project", where ? json::value(where->path) : json::value(nullptr)},
                        {"fact", "task"},
                        {"source", "task"},
                        {"evidence", json::array{json::object{{"file", nullptr},
                                                              {"detail", "`" + cmd + "` was given in the task"}}}}}},
      };
      steps.push_back(std::move(step));
      previous_phase_ids = {id};
    }
  }

  json::value scope = nullptr;
  if (!intents.scope.empty()) {
    json::array s;
    for (const Project* p : in_scope) s.push_back(json::value(p->path));
    scope = std::move(s);
  }
  json::object plan{{"planner", "rules"}, {"task", task},     {"intents", std::move(intent_names)},
                    {"implied", implied}, {"scope", scope},   {"steps", steps},
                    {"unmet", unmet}};
  return json::serialize(plan);
}

}  // namespace isb::planner
