// step_graph.cpp: validation and defaults of plan steps; cycle detection.
#include "services/step_graph.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <set>

namespace json = boost::json;

namespace isb::services {

bool is_valid_step_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

namespace {

Error bad(const std::string& where, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, where + ": " + what);
}

bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0 && end - start == 2) return false;
    start = end + 1;
  }
  return true;
}

std::optional<int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() < (1ull << 62)) return static_cast<int64_t>(v.as_uint64());
  return std::nullopt;
}

const std::set<std::string> kPhases = {"setup", "install", "build", "test", "lint", "format", "run", "clean", "custom"};
const std::set<std::string> kKnownKeys = {"id",         "title",      "name",     "phase",          "argv",
                                          "shell",      "command",    "cwd",      "env",            "timeout_s",
                                          "depends_on", "retryable",  "retry",    "continue_on_error", "artifacts",
                                          "provenance"};

// Finds one cycle through DFS colouring and returns its ids in order, the
// first repeated at the end ("a -> b -> a").
std::vector<std::string> find_cycle(const json::array& steps, const std::map<std::string, size_t>& index) {
  std::vector<int> colour(steps.size(), 0);  // 0 new, 1 on the stack, 2 done
  std::vector<size_t> stack;
  std::vector<std::string> cycle;
  std::function<bool(size_t)> visit = [&](size_t i) {
    colour[i] = 1;
    stack.push_back(i);
    for (const auto& d : steps[i].as_object().at("depends_on").as_array()) {
      size_t j = index.at(std::string(d.as_string()));
      if (colour[j] == 1) {
        auto it = std::find(stack.begin(), stack.end(), j);
        for (; it != stack.end(); ++it) cycle.push_back(std::string(steps[*it].as_object().at("id").as_string()));
        cycle.push_back(std::string(steps[j].as_object().at("id").as_string()));
        return true;
      }
      if (colour[j] == 0 && visit(j)) return true;
    }
    stack.pop_back();
    colour[i] = 2;
    return false;
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    if (colour[i] == 0 && visit(i)) return cycle;
  }
  return {};
}

}  // namespace

Result<json::array> normalize_steps(const json::array& steps, const std::string& default_source) {
  if (steps.empty()) return bad("steps", "the plan has no steps; give at least one {\"command\": ...}");
  if (steps.size() > kMaxSteps) {
    return bad("steps", "a plan may have at most " + std::to_string(kMaxSteps) + " steps, got " +
                            std::to_string(steps.size()) + "; split the work into several plans");
  }
  json::array out;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string where = "steps[" + std::to_string(i) + "]";
    if (!steps[i].is_object()) return bad(where, "must be an object such as {\"command\": \"make check\"}");
    const json::object& in = steps[i].as_object();
    for (const auto& kv : in) {
      if (!kKnownKeys.count(std::string(kv.key()))) {
        return bad(where, "unknown field '" + std::string(kv.key()) +
                              "'; a step takes id, title, phase, command (or argv/shell), cwd, env, timeout_s, "
                              "depends_on, retryable, retry, continue_on_error, artifacts");
      }
    }
    json::object s;
    std::string id = "step-" + std::to_string(i + 1);
    if (auto* v = in.if_contains("id")) {
      if (!v->is_string() || !is_valid_step_id(std::string(v->as_string()))) {
        return bad(where + ".id", "must be 1-64 characters from A-Z a-z 0-9 - _ .");
      }
      id = v->as_string();
    }
    if (index.count(id)) {
      return bad(where + ".id", "'" + id + "' is also the id of steps[" + std::to_string(index[id]) +
                                    "]; step ids must be unique");
    }
    index[id] = i;
    where = "step '" + id + "'";
    s["id"] = id;

    // The command: exactly one of argv, shell, command.
    int given = int(in.contains("argv")) + int(in.contains("shell")) + int(in.contains("command"));
    if (given != 1) {
      return bad(where, given == 0 ? "has no command; give \"command\": \"make check\" (a shell line) or "
                                     "[\"make\", \"check\"] (argv)"
                                   : "gives more than one of command, argv and shell; keep one");
    }
    const json::value* argv = in.if_contains("argv");
    const json::value* shell = in.if_contains("shell");
    if (auto* c = in.if_contains("command")) (c->is_array() ? argv : shell) = c;
    if (argv) {
      if (!argv->is_array() || argv->as_array().empty()) return bad(where, "argv must be a non-empty array of strings");
      for (const auto& a : argv->as_array()) {
        if (!a.is_string()) return bad(where, "argv must be a non-empty array of strings");
      }
      if (argv->as_array()[0].as_string().empty()) return bad(where, "argv[0] is empty; name the program to run");
      s["argv"] = *argv;
    } else {
      if (!shell->is_string() || shell->as_string().find_first_not_of(" \t\r\n") == json::string::npos) {
        return bad(where, "the command must be a non-empty shell line or a non-empty argv array");
      }
      s["shell"] = *shell;
    }

    std::string title;
    for (const char* k : {"title", "name"}) {
      if (auto* v = in.if_contains(k)) {
        if (!v->is_string()) return bad(where + "." + k, "must be a string");
        title = v->as_string();
      }
    }
    if (title.empty()) {
      title = argv ? std::string(argv->as_array()[0].as_string()) : std::string(shell->as_string());
      if (argv) {
        for (size_t k = 1; k < argv->as_array().size(); ++k) title += " " + std::string(argv->as_array()[k].as_string());
      }
      if (title.size() > 120) title = title.substr(0, 117) + "...";
    }
    s["title"] = title;

    std::string phase = "custom";
    if (auto* v = in.if_contains("phase")) {
      if (!v->is_string() || !kPhases.count(std::string(v->as_string()))) {
        return bad(where + ".phase", "must be one of setup, install, build, test, lint, format, run, clean, custom");
      }
      phase = v->as_string();
    }
    s["phase"] = phase;

    std::string cwd = ".";
    if (auto* v = in.if_contains("cwd")) {
      if (!v->is_string() || !safe_relative(std::string(v->as_string()))) {
        return bad(where + ".cwd", "must be a path relative to the workspace root without '..' (e.g. \"packages/api\")");
      }
      cwd = v->as_string();
    }
    s["cwd"] = cwd;

    json::object env;
    if (auto* v = in.if_contains("env"); v && !v->is_null()) {
      if (!v->is_object()) return bad(where + ".env", "must be an object of string values");
      for (const auto& kv : v->as_object()) {
        if (!kv.value().is_string() || kv.key().empty() || kv.key().find('=') != json::string::npos) {
          return bad(where + ".env", "'" + std::string(kv.key()) + "' must be a name without '=' with a string value");
        }
      }
      env = v->as_object();
    }
    s["env"] = env;

    json::value timeout = nullptr;
    if (auto* v = in.if_contains("timeout_s"); v && !v->is_null()) {
      auto t = as_int(*v);
      if (!t || *t < 1 || *t > kMaxStepTimeoutS) {
        return bad(where + ".timeout_s", "must be an integer from 1 to " + std::to_string(kMaxStepTimeoutS));
      }
      timeout = *t;
    }
    s["timeout_s"] = timeout;

    json::array deps;
    if (auto* v = in.if_contains("depends_on"); v && !v->is_null()) {
      if (!v->is_array()) return bad(where + ".depends_on", "must be an array of step ids");
      for (const auto& d : v->as_array()) {
        if (!d.is_string()) return bad(where + ".depends_on", "must be an array of step ids");
        if (std::find(deps.begin(), deps.end(), d) == deps.end()) deps.push_back(d);
      }
    }
    s["depends_on"] = deps;

    bool retryable = false;
    if (auto* v = in.if_contains("retryable"); v && !v->is_null()) {
      if (!v->is_bool()) return bad(where + ".retryable", "must be true or false");
      retryable = v->as_bool();
    }
    int64_t attempts = retryable ? 2 : 1, backoff = 1000;
    if (auto* v = in.if_contains("retry"); v && !v->is_null()) {
      if (!v->is_object()) return bad(where + ".retry", "must be {\"attempts\": n, \"backoff_ms\": ms}");
      for (const auto& kv : v->as_object()) {
        auto n = as_int(kv.value());
        if (kv.key() == "attempts") {
          if (!n || *n < 1 || *n > kMaxAttempts) {
            return bad(where + ".retry.attempts", "must be an integer from 1 to " + std::to_string(kMaxAttempts));
          }
          attempts = *n;
        } else if (kv.key() == "backoff_ms") {
          if (!n || *n < 0 || *n > kMaxBackoffMs) {
            return bad(where + ".retry.backoff_ms", "must be an integer from 0 to " + std::to_string(kMaxBackoffMs));
          }
          backoff = *n;
        } else {
          return bad(where + ".retry", "unknown field '" + std::string(kv.key()) + "'; use attempts and backoff_ms");
        }
      }
      // Retrying a step that is not idempotent could do its effect twice: the
      // client has to say so explicitly.
      if (attempts > 1 && !retryable) {
        return bad(where + ".retry", "asks for " + std::to_string(attempts) +
                                         " attempts but the step is not marked \"retryable\": true; mark it so "
                                         "only when running it twice is safe");
      }
    }
    s["retryable"] = retryable;
    s["retry"] = json::object{{"attempts", attempts}, {"backoff_ms", backoff}};

    bool coe = false;
    if (auto* v = in.if_contains("continue_on_error"); v && !v->is_null()) {
      if (!v->is_bool()) return bad(where + ".continue_on_error", "must be true or false");
      coe = v->as_bool();
    }
    s["continue_on_error"] = coe;

    json::array artifacts;
    if (auto* v = in.if_contains("artifacts"); v && !v->is_null()) {
      if (!v->is_array()) return bad(where + ".artifacts", "must be an array of {\"type\":\"junit\",\"path\":...}");
      for (const auto& a : v->as_array()) {
        const json::value* type = a.is_object() ? a.as_object().if_contains("type") : nullptr;
        const json::value* path = a.is_object() ? a.as_object().if_contains("path") : nullptr;
        if (!type || !type->is_string() || type->as_string() != "junit" || !path || !path->is_string() ||
            !safe_relative(std::string(path->as_string()))) {
          return bad(where + ".artifacts",
                     "each artifact must be {\"type\":\"junit\",\"path\":\"<relative to the step's cwd>\"}");
        }
        artifacts.push_back(json::object{{"type", "junit"}, {"path", path->as_string()}});
      }
    }
    s["artifacts"] = artifacts;

    if (auto* v = in.if_contains("provenance"); v && v->is_object()) {
      // Stored with the plan and sent back with every get_plan: bounded.
      if (json::serialize(*v).size() > kMaxProvenanceBytes) {
        return bad(where + ".provenance", "is over " + std::to_string(kMaxProvenanceBytes) +
                                              " bytes as JSON; keep it to the fact and evidence that made the step");
      }
      s["provenance"] = *v;
    } else {
      s["provenance"] = json::object{{"source", default_source}};
    }
    out.push_back(std::move(s));
  }

  for (const auto& sv : out) {
    const json::object& s = sv.as_object();
    for (const auto& d : s.at("depends_on").as_array()) {
      std::string dep(d.as_string());
      if (!index.count(dep)) {
        std::string known;
        for (const auto& kv : index) known += (known.empty() ? "" : ", ") + kv.first;
        return bad("step '" + std::string(s.at("id").as_string()) + "'",
                   "depends on unknown step '" + dep + "'; the steps are: " + known);
      }
      if (dep == s.at("id").as_string()) {
        return bad("step '" + dep + "'", "depends on itself; remove it from its own depends_on");
      }
    }
  }
  if (auto cycle = find_cycle(out, index); !cycle.empty()) {
    std::string path;
    for (const auto& id : cycle) path += (path.empty() ? "" : " -> ") + id;
    return bad("steps", "depends_on forms a cycle: " + path + "; remove one of these dependencies");
  }
  return out;
}

std::vector<size_t> topological_order(const json::array& steps) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < steps.size(); ++i) index[std::string(steps[i].as_object().at("id").as_string())] = i;
  std::vector<int> done(steps.size(), 0);
  std::vector<size_t> order;
  std::function<void(size_t)> visit = [&](size_t i) {
    if (done[i]) return;
    done[i] = 1;
    for (const auto& d : steps[i].as_object().at("depends_on").as_array()) visit(index.at(std::string(d.as_string())));
    order.push_back(i);
  };
  for (size_t i = 0; i < steps.size(); ++i) visit(i);
  return order;
}

boost::json::object step_command(const boost::json::object& step) {
  boost::json::object command;
  if (auto* a = step.if_contains("argv")) command["argv"] = *a;
  if (auto* s = step.if_contains("shell")) command["shell"] = *s;
  return command;
}

}  // namespace isb::services
