// plan_builder.cpp: the rules planner's plan, built phase by phase from the
// task's intents and the analysis's projects (see PlanBuilder below).
#include "plan_builder.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <optional>
#include <set>

#include "intents.hpp"

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
    case Phase::Format:
      return {"format", "fmt"};
    default:
      return {phase_name(p)};
  }
}

std::string title(Phase p, const Project& pr) {
  // What a step of each phase does, in the order of Phase.
  static constexpr const char* kWhat[] = {"Clean ", "Install the dependencies of ",
                                          "Build ", "Format the code of ",
                                          "Lint ",  "Run the tests of ",
                                          "Run ",   "Run a command in "};
  return kWhat[static_cast<size_t>(p)] + pr.path + (pr.ecosystem.empty() ? "" : " (" + pr.ecosystem + ")");
}

//! Copies argv or shell of a command into step; throws when it has neither.
void copy_command(const json::value& cmd, const std::string& where, json::object& step) {
  if (!cmd.is_object()) invalid(where + " must be an object with argv or shell");
  const json::object& c = cmd.as_object();
  if (auto* argv = c.if_contains("argv")) {
    if (!argv->is_array() || argv->as_array().empty())
      invalid(where + ".argv must be a non-empty array of strings");
    for (const auto& a : argv->as_array()) {
      if (!a.is_string()) invalid(where + ".argv must be a non-empty array of strings");
    }
    step["argv"] = *argv;
  } else if (auto* shell = c.if_contains("shell")) {
    if (!shell->is_string() || shell->as_string().empty())
      invalid(where + ".shell must be a non-empty string");
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
    case Phase::Build:
      return {Phase::Install};
    case Phase::Test:
      return {Phase::Install, Phase::Build};
    case Phase::Run:
      return {Phase::Install, Phase::Build};
    default:
      return {};
  }
}

// The asked and implied (phase, project) pairs, before any step is written.
struct Wanted {
  std::string implied_by;  // empty when asked for
};

//! Builds one plan, phase by phase: read() takes the request apart, choose()
//! decides which (phase, project) pairs get a step, add_phase() writes the
//! steps of one phase (or says why an asked phase has none),
//! add_custom_commands() appends the backtick commands, and plan() is the
//! document. Throws sdk::Error as build_plan says.
class PlanBuilder {
 public:
  void read(const std::string& request_json);
  //! The task's intents; ISB_NOT_SUPPORTED when it has none.
  void find_task_intents();
  void choose();
  void add_phase(Phase phase);
  void add_custom_commands();
  json::object plan() const;

 private:
  bool has_command(const Project* p, Phase ph) const;
  bool asked(Phase ph) const {
    return std::find(intents_.phases.begin(), intents_.phases.end(), ph) != intents_.phases.end();
  }
  bool excluded(Phase ph) const {
    return std::find(intents_.excluded.begin(), intents_.excluded.end(), ph) != intents_.excluded.end();
  }
  //! The innermost other project of the same ecosystem whose path encloses p's.
  const Project* enclosing(const Project* p) const;
  //! Names each project can be called by in the task.
  std::vector<std::vector<std::string>> project_names() const;
  json::object project_step(Phase phase, const Project& p, const Wanted& wanted);
  json::object unmet(Phase phase) const;

  json::value request_;
  std::string task_;
  std::vector<Project> projects_;
  Intents intents_;
  std::vector<const Project*> in_scope_;
  std::map<std::pair<Phase, size_t>, Wanted> wanted_;  // (phase, project index)
  std::map<size_t, std::set<size_t>> installed_by_;    // project -> enclosing projects installing for it

  json::array steps_, unmet_, intent_names_;
  std::map<size_t, std::string> tail_;        // project index -> id of its latest step
  std::map<size_t, std::string> install_id_;  // project index -> id of its install step
  std::map<Phase, int> per_phase_;
  std::vector<std::string> order_;  // step ids as emitted
  std::set<Phase> implied_used_;
};

void PlanBuilder::read(const std::string& request_json) {
  boost::system::error_code ec;
  request_ = json::parse(request_json, ec);
  if (ec) invalid("the plan request is not valid JSON: " + ec.message());
  if (!request_.is_object()) invalid("the plan request must be a JSON object with task and analysis");
  const json::object& r = request_.as_object();
  const json::value* task_v = r.if_contains("task");
  if (!task_v || !task_v->is_string())
    invalid("the plan request needs \"task\": a sentence saying what to do");
  task_ = std::string(task_v->as_string());
  if (task_.find_first_not_of(" \t\r\n") == std::string::npos) invalid("the task is empty");
  if (auto* o = r.if_contains("options"); o && !o->is_object() && !o->is_null())
    invalid("options must be an object");

  const json::value* a = r.if_contains("analysis");
  if (!a || a->is_null()) return;
  if (!a->is_object()) invalid("analysis must be an object");
  const json::value* ps = a->as_object().if_contains("projects");
  if (!ps || ps->is_null()) return;
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
    projects_.push_back(std::move(p));
  }
}

std::vector<std::vector<std::string>> PlanBuilder::project_names() const {
  std::vector<std::vector<std::string>> names;
  for (const auto& p : projects_) {
    std::vector<std::string> n;
    std::string path = p.path;
    if (path.size() > 2 && path.rfind("./", 0) == 0) path = path.substr(2);
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    n.push_back(lower(path));
    if (auto slash = path.rfind('/'); slash != std::string::npos && slash + 1 < path.size()) {
      n.push_back(lower(path.substr(slash + 1)));
    }
    const json::object& po =
        request_.as_object().at("analysis").as_object().at("projects").as_array()[p.index].as_object();
    if (auto* name = po.if_contains("name"); name && name->is_string() && !name->as_string().empty()) {
      n.push_back(lower(std::string(name->as_string())));
    }
    names.push_back(std::move(n));
  }
  return names;
}

void PlanBuilder::find_task_intents() {
  intents_ = find_intents(task_, project_names());
  if (intents_.phases.empty() && intents_.custom_commands.empty()) {
    throw sdk::Error(
        ISB_NOT_SUPPORTED,
        "found no intent in the task \"" + task_ +
            "\"; say clean, install, build, test, lint, format, run, or give a command in backticks");
  }
  for (const auto& p : projects_) {
    if (intents_.scope.empty() ||
        std::find(intents_.scope.begin(), intents_.scope.end(), p.index) != intents_.scope.end()) {
      in_scope_.push_back(&p);
    }
  }
}

bool PlanBuilder::has_command(const Project* p, Phase ph) const {
  if (!p->commands) return false;
  for (const char* k : command_keys(ph)) {
    if (auto* c = p->commands->if_contains(k); c && !c->is_null()) return true;
  }
  return false;
}

const Project* PlanBuilder::enclosing(const Project* p) const {
  const Project* best = nullptr;
  for (const auto& q : projects_) {
    if (&q == p || q.ecosystem != p->ecosystem || q.ecosystem.empty()) continue;
    const bool encloses =
        q.path == "." || (p->path.size() > q.path.size() && p->path.rfind(q.path + "/", 0) == 0);
    if (encloses && (!best || q.path.size() > best->path.size())) best = &q;
  }
  return best;
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
void PlanBuilder::choose() {
  for (const Project* p : in_scope_) {
    for (Phase ph : intents_.phases) {
      if (has_command(p, ph)) wanted_[{ph, p->index}] = Wanted{};
    }
  }
  if (intents_.only_asked) return;
  for (const Project* p : in_scope_) {
    for (Phase ph : intents_.phases) {
      if (!has_command(p, ph)) continue;
      for (Phase need : implied_phases(ph)) {
        if (asked(need) || excluded(need)) continue;
        const Project* owner = has_command(p, need) ? p : nullptr;
        if (!owner && need == Phase::Install) owner = enclosing(p);
        if (!owner || !has_command(owner, need)) continue;
        if (need == Phase::Install && owner == p && p->declares_no_dependencies) continue;
        if (owner != p) installed_by_[p->index].insert(owner->index);
        // The first asked phase (in phase order) that needs it names it.
        wanted_.emplace(std::make_pair(need, owner->index), Wanted{phase_name(ph)});
      }
    }
  }
}

json::object PlanBuilder::project_step(Phase phase, const Project& p, const Wanted& wanted) {
  const json::value* cmd = nullptr;
  std::string key;
  for (const char* k : command_keys(phase)) {
    if ((cmd = p.commands->if_contains(k)) && !cmd->is_null()) {
      key = k;
      break;
    }
  }
  std::string fact = "projects[" + std::to_string(p.index) + "].commands." + key;
  json::object step;
  std::string id = std::string(phase_name(phase)) + "-" + std::to_string(++per_phase_[phase]);
  step["id"] = id;
  step["title"] = title(phase, p);
  step["phase"] = phase_name(phase);
  copy_command(*cmd, "analysis." + fact, step);
  const json::object& c = cmd->as_object();
  // A command's own cwd (relative to the workspace) wins over the project path.
  const json::value* cwd = c.if_contains("cwd");
  step["cwd"] = cwd && cwd->is_string() ? json::value(cwd->as_string()) : json::value(p.path);
  step["timeout_s"] = nullptr;
  // A step waits for the previous step of its own project only (or, for
  // a package's first step, the install of the root that installs it):
  // steps of projects that do not depend on each other run in parallel.
  json::array deps;
  if (auto t = tail_.find(p.index); t != tail_.end()) {
    deps.push_back(json::value(t->second));
  } else if (auto ib = installed_by_.find(p.index); ib != installed_by_.end()) {
    for (size_t owner : ib->second) {
      if (auto in = install_id_.find(owner); in != install_id_.end()) deps.push_back(json::value(in->second));
    }
  }
  step["depends_on"] = std::move(deps);
  step["continue_on_error"] = false;
  json::object prov{{"project", p.path}, {"fact", fact}};
  const json::value* source = c.if_contains("source");
  prov["source"] = source ? *source : json::value(nullptr);
  if (const json::value* conf = c.if_contains("confidence")) prov["confidence"] = *conf;
  const json::value* ev = c.if_contains("evidence");
  prov["evidence"] = ev && ev->is_array() ? *ev : json::value(json::array{});
  if (!wanted.implied_by.empty()) {
    prov["implied_by"] = wanted.implied_by;
    implied_used_.insert(phase);
  }
  step["provenance"] = std::move(prov);
  tail_[p.index] = id;
  if (phase == Phase::Install) install_id_[p.index] = id;
  order_.push_back(id);
  return step;
}

json::object PlanBuilder::unmet(Phase phase) const {
  json::array available;
  for (const Project* p : in_scope_) {
    if (!p->commands) continue;
    for (const auto& [k, v] : *p->commands)
      available.push_back(json::value(std::string(k) + " (" + p->path + ")"));
  }
  std::string what = std::string(phase_name(phase)) + " command";
  std::string reason;
  if (projects_.empty()) {
    reason = "the analysis found no projects";
  } else if (!intents_.scope.empty()) {
    std::string list;
    for (const Project* p : in_scope_) list += (list.empty() ? "" : ", ") + p->path;
    reason =
        (in_scope_.size() == 1 ? "project '" + list + "' has no " : "no project of " + list + " has a ") +
        what;
  } else {
    reason = "no project has a " + what;
  }
  return json::object{{"intent", phase_name(phase)}, {"reason", reason}, {"available", available}};
}

void PlanBuilder::add_phase(Phase phase) {
  if (asked(phase)) intent_names_.push_back(phase_name(phase));
  bool produced = false;
  for (const auto& p : projects_) {
    auto wit = wanted_.find({phase, p.index});
    if (wit == wanted_.end()) continue;
    steps_.push_back(project_step(phase, p, wit->second));
    produced = true;
  }
  if (asked(phase) && !produced) unmet_.push_back(unmet(phase));
}

// Commands given in backticks run last, after every project's last step,
// one after the other, as written.
void PlanBuilder::add_custom_commands() {
  std::vector<std::string> previous_ids;
  for (const auto& id : order_) {
    for (const auto& [project, last] : tail_) {
      if (last == id) previous_ids.push_back(id);
    }
  }
  if (intents_.custom_commands.empty()) return;
  intent_names_.push_back("custom");
  const Project* where = in_scope_.size() == 1 && !intents_.scope.empty() ? in_scope_[0] : nullptr;
  for (size_t i = 0; i < intents_.custom_commands.size(); ++i) {
    const std::string& cmd = intents_.custom_commands[i];
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
        {"provenance", json::object{{"project", where ? json::value(where->path) : json::value(nullptr)},
                                    {"fact", "task"},
                                    {"source", "task"},
                                    {"evidence", json::array{json::object{
                                                     {"file", nullptr},
                                                     {"detail", "`" + cmd + "` was given in the task"}}}}}},
    };
    steps_.push_back(std::move(step));
    previous_ids = {id};
  }
}

json::object PlanBuilder::plan() const {
  json::array implied;
  for (Phase ph : implied_used_) implied.push_back(phase_name(ph));
  json::value scope = nullptr;
  if (!intents_.scope.empty()) {
    json::array s;
    for (const Project* p : in_scope_) s.push_back(json::value(p->path));
    scope = std::move(s);
  }
  return json::object{{"planner", "rules"}, {"task", task_},  {"intents", intent_names_},
                      {"implied", implied}, {"scope", scope}, {"steps", steps_},
                      {"unmet", unmet_}};
}

}  // namespace

std::string build_plan(const std::string& request_json) {
  PlanBuilder builder;
  builder.read(request_json);
  builder.find_task_intents();
  builder.choose();
  for (Phase phase :
       {Phase::Clean, Phase::Install, Phase::Build, Phase::Format, Phase::Lint, Phase::Test, Phase::Run}) {
    builder.add_phase(phase);
  }
  builder.add_custom_commands();
  return json::serialize(builder.plan());
}

}  // namespace isb::planner
