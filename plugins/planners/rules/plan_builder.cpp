#include "plan_builder.hpp"

#include "intents.hpp"

#include <isb/sdk/plugin.hpp>

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <set>

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
  // From the dependencies analyzer: true when it found the project's
  // manifests and they declare nothing (no direct, no transitive). Such a
  // project has nothing to install, so install is never implied for it.
  bool declares_no_dependencies = false;
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

// What an asked phase needs first, in phase order (railpack's and nixpacks'
// install -> build -> start; Heroku CI's install before test). Only the
// phases the project's analysis has a command for are added.
std::vector<Phase> implied_phases(Phase asked) {
  switch (asked) {
    case Phase::Build: return {Phase::Install};
    case Phase::Test: return {Phase::Install, Phase::Build};
    case Phase::Run: return {Phase::Install, Phase::Build};
    default: return {};
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
        if (auto* dc = po.if_contains("dependency_count"); dc && dc->is_object()) {
          auto count = [&](const char* k) {
            const json::value* v = dc->as_object().if_contains(k);
            return v && v->is_int64() ? v->as_int64() : -1;
          };
          p.declares_no_dependencies = count("direct") == 0 && count("transitive") == 0;
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

  // Which (phase, project) pairs get a step. An asked phase gives a step to
  // every project in scope that has its command. Implied phases (kImplies)
  // are added per project, only for a project that got a step of the phase
  // that implies them and only when the analysis has their command: the
  // tests of a project that has install and build commands run after its
  // install and its build. A package without an install command of its own
  // is installed by the enclosing project of the same ecosystem when that
  // one has an install command (a pnpm or npm workspace root). Excluded
  // phases ("skip the install") and "just"/"only" suppress implication.
  auto has_command = [](const Project* p, Phase ph) {
    if (!p->commands) return false;
    for (const char* k : command_keys(ph)) {
      if (auto* c = p->commands->if_contains(k); c && !c->is_null()) return true;
    }
    return false;
  };
  auto is_excluded = [&](Phase ph) {
    return std::find(intents.excluded.begin(), intents.excluded.end(), ph) != intents.excluded.end();
  };
  auto asked = [&](Phase ph) { return std::find(intents.phases.begin(), intents.phases.end(), ph) != intents.phases.end(); };
  // The innermost other project of the same ecosystem whose path encloses p's.
  auto enclosing = [&](const Project* p) -> const Project* {
    const Project* best = nullptr;
    for (const auto& q : projects) {
      if (&q == p || q.ecosystem != p->ecosystem || q.ecosystem.empty()) continue;
      const bool encloses = q.path == "." || (p->path.size() > q.path.size() && p->path.rfind(q.path + "/", 0) == 0);
      if (encloses && (!best || q.path.size() > best->path.size())) best = &q;
    }
    return best;
  };
  struct Wanted {
    std::string implied_by;  // empty when asked for
  };
  std::map<std::pair<Phase, size_t>, Wanted> wanted;  // (phase, project index)
  std::map<size_t, std::set<size_t>> installed_by;    // project -> enclosing projects installing for it
  for (const Project* p : in_scope) {
    for (Phase ph : intents.phases) {
      if (has_command(p, ph)) wanted[{ph, p->index}] = Wanted{};
    }
  }
  if (!intents.only_asked) {
    for (const Project* p : in_scope) {
      for (Phase ph : intents.phases) {
        if (!has_command(p, ph)) continue;
        for (Phase need : implied_phases(ph)) {
          if (asked(need) || is_excluded(need)) continue;
          const Project* owner = has_command(p, need) ? p : nullptr;
          if (!owner && need == Phase::Install) owner = enclosing(p);
          if (!owner || !has_command(owner, need)) continue;
          if (need == Phase::Install && owner == p && p->declares_no_dependencies) continue;
          if (owner != p) installed_by[p->index].insert(owner->index);
          // The first asked phase (in phase order) that needs it names it.
          wanted.emplace(std::make_pair(need, owner->index), Wanted{phase_name(ph)});
        }
      }
    }
  }

  json::array steps, unmet, intent_names, implied;
  std::map<size_t, std::string> tail;        // project index -> id of its latest step
  std::map<size_t, std::string> install_id;  // project index -> id of its install step
  std::map<Phase, int> per_phase;
  std::vector<std::string> order;  // step ids as emitted
  std::set<Phase> implied_phases_used;
  for (Phase phase : {Phase::Clean, Phase::Install, Phase::Build, Phase::Format, Phase::Lint, Phase::Test, Phase::Run}) {
    if (asked(phase)) intent_names.push_back(phase_name(phase));
    bool produced = false;
    for (const auto& pr : projects) {
      const Project* p = &pr;
      auto wit = wanted.find({phase, p->index});
      if (wit == wanted.end()) continue;
      const json::value* cmd = nullptr;
      std::string key;
      for (const char* k : command_keys(phase)) {
        if ((cmd = p->commands->if_contains(k)) && !cmd->is_null()) {
          key = k;
          break;
        }
      }
      std::string fact = "projects[" + std::to_string(p->index) + "].commands." + key;
      json::object step;
      std::string id = std::string(phase_name(phase)) + "-" + std::to_string(++per_phase[phase]);
      step["id"] = id;
      step["title"] = title(phase, *p);
      step["phase"] = phase_name(phase);
      copy_command(*cmd, "analysis." + fact, step);
      const json::object& c = cmd->as_object();
      // A command's own cwd (relative to the workspace) wins over the project path.
      const json::value* cwd = c.if_contains("cwd");
      step["cwd"] = cwd && cwd->is_string() ? json::value(cwd->as_string()) : json::value(p->path);
      step["timeout_s"] = nullptr;
      // A step waits for the previous step of its own project only (or, for
      // a package's first step, the install of the root that installs it):
      // steps of projects that do not depend on each other run in parallel.
      json::array deps;
      if (auto t = tail.find(p->index); t != tail.end()) {
        deps.push_back(json::value(t->second));
      } else if (auto ib = installed_by.find(p->index); ib != installed_by.end()) {
        for (size_t owner : ib->second) {
          if (auto in = install_id.find(owner); in != install_id.end()) deps.push_back(json::value(in->second));
        }
      }
      step["depends_on"] = std::move(deps);
      step["continue_on_error"] = false;
      json::object prov{{"project", p->path}, {"fact", fact}};
      const json::value* source = c.if_contains("source");
      prov["source"] = source ? *source : json::value(nullptr);
      if (const json::value* conf = c.if_contains("confidence")) prov["confidence"] = *conf;
      const json::value* ev = c.if_contains("evidence");
      prov["evidence"] = ev && ev->is_array() ? *ev : json::value(json::array{});
      if (!wit->second.implied_by.empty()) {
        prov["implied_by"] = wit->second.implied_by;
        implied_phases_used.insert(phase);
      }
      step["provenance"] = std::move(prov);
      steps.push_back(std::move(step));
      tail[p->index] = id;
      if (phase == Phase::Install) install_id[p->index] = id;
      order.push_back(id);
      produced = true;
    }
    if (asked(phase) && !produced) {
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
    }
  }
  for (Phase ph : implied_phases_used) implied.push_back(phase_name(ph));

  // Commands given in backticks run last, after every project's last step,
  // one after the other, as written.
  std::vector<std::string> previous_ids;
  for (const auto& id : order) {
    for (const auto& [project, last] : tail) {
      if (last == id) previous_ids.push_back(id);
    }
  }
  if (!intents.custom_commands.empty()) {
    intent_names.push_back("custom");
    const Project* where = in_scope.size() == 1 && !intents.scope.empty() ? in_scope[0] : nullptr;
    for (size_t i = 0; i < intents.custom_commands.size(); ++i) {
      const std::string& cmd = intents.custom_commands[i];
      std::string id = "custom-" + std::to_string(i + 1);
      json::array deps;
      for (const auto& d : previous_ids) deps.push_back(json::value(d));
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
      previous_ids = {id};
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
