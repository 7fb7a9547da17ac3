// process_backend.cpp: the "process" isolation plugin: sandbox bookkeeping,
// probe and the SDK entry points. Command execution lives in runner.cpp.
#include "config.hpp"
#include "json_util.hpp"
#include "runner.hpp"
#include "specs.hpp"

#include <isb/sdk/plugin.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace isb::process {
namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

//! One sandbox: a workspace directory plus the process groups started in it.
struct Sandbox {
  SandboxSpec spec;
  std::mutex mu;
  bool destroyed = false;       // guarded by mu
  std::set<pid_t> groups;       // guarded by mu: running or left-behind groups
};

class ProcessBackend : public sdk::IsolationBackend {
 public:
  static sdk::PluginInfo info() {
    return {"process",
            "Process isolation",
            "0.1.0",
            "Runs commands as child processes of the server with rlimits, process-group kill and "
            "timeouts. Provides NO isolation: no namespaces, cgroups or seccomp.",
            kConfigSchema,
            ISB_CAP_THREAD_SAFE};
  }

  ProcessBackend(sdk::Host host, const std::string& config_json)
      : host_(host), config_(parse_config(config_json)), is_root_(::geteuid() == 0) {}

  ~ProcessBackend() override {
    // The host destroys the instance only with no call in flight; whatever the
    // sandboxes left running must not outlive the plugin.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, sb] : sandboxes_) kill_groups(*sb);
  }

  std::string probe() override {
    namespace json = boost::json;
    auto prot = [](const char* name, bool enforced, std::string detail) {
      return json::object{{"name", name}, {"enforced", enforced}, {"detail", std::move(detail)}};
    };
    std::string rlimit_detail =
        "RLIMIT_AS/NPROC/NOFILE/FSIZE/CORE set per command from resource_limits (memory_mb -> RLIMIT_AS, "
        "disk_mb -> RLIMIT_FSIZE, a per-file size cap and not a disk quota; cpu_cores is not enforced)";
    if (is_root_) {
      rlimit_detail += "; the server runs as root, so max_processes (RLIMIT_NPROC) is NOT applied";
    } else {
      rlimit_detail += "; RLIMIT_NPROC counts every process of the server's user, not only the sandbox's";
    }
    json::array protections{
        prot("rlimits", true, rlimit_detail),
        prot("process_group_kill", true,
             "each command runs in its own process group; timeout, cancel and sandbox_destroy signal the "
             "whole group (a process that calls setsid/setpgid itself escapes it)"),
        prot("wall_clock_timeout", true,
             "timeout_ms per command: SIGTERM to the group, SIGKILL after kill_grace_ms (" +
                 std::to_string(config_.kill_grace_ms) + " ms)"),
        prot("user_namespace", false, "not in this version: commands run as the server's user"),
        prot("mount_namespace", false, "not in this version: commands see the server's whole filesystem"),
        prot("pid_namespace", false, "not in this version: commands see and can signal the server's processes"),
        prot("network_namespace", false, "commands have the host's network"),
        prot("cgroups", false, "not in this version: no CPU, memory or pids cgroup accounting"),
        prot("seccomp", false, "not in this version: every system call is allowed"),
    };
    json::object doc{
        {"backend", "process"},
        {"available", true},
        {"isolation", "none"},
        {"running_as_root", is_root_},
        {"protections", std::move(protections)},
        {"warnings", json::array{"commands can read and write anything the server's user can; this backend "
                                 "only limits resources"}},
    };
    return json::serialize(doc);
  }

  std::string create_sandbox(const std::string& spec_json) override {
    SandboxSpec spec = parse_sandbox_spec(spec_json);
    auto sb = std::make_shared<Sandbox>();
    sb->spec = spec;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (sandboxes_.count(spec.workspace_id)) {
        throw sdk::Error(ISB_INVALID_ARGUMENT, "sandbox '" + spec.workspace_id + "' already exists");
      }
      sandboxes_[spec.workspace_id] = sb;
    }
    boost::json::array unenforced;
    if (spec.limits.cpu_cores) unenforced.push_back("cpu_cores");
    if (spec.limits.max_processes && is_root_) unenforced.push_back("max_processes");
    boost::json::object doc{
        {"sandbox_id", spec.workspace_id},
        {"workspace_path", spec.workspace_path},
        {"resource_limits", spec.limits.to_json()},
        {"unenforced_limits", std::move(unenforced)},
    };
    host_.debug("process backend: created sandbox '" + spec.workspace_id + "' at " + spec.workspace_path);
    return boost::json::serialize(doc);
  }

  std::string exec(const std::string& sandbox_id, const std::string& spec_json, sdk::OutputSink& sink) override {
    std::shared_ptr<Sandbox> sb = find(sandbox_id);
    ExecSpec spec = parse_exec_spec(spec_json);

    std::string cwd = sb->spec.workspace_path;
    if (spec.cwd != ".") cwd += "/" + spec.cwd;
    struct stat st {};
    if (::stat(cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw sdk::Error(ISB_INVALID_ARGUMENT, "cwd '" + spec.cwd + "' is not a directory in the workspace");
    }

    RunRequest req;
    req.argv = spec.argv;
    req.cwd = cwd;
    std::map<std::string, std::string> env;
    const char* server_path = std::getenv("PATH");
    env["PATH"] = server_path && *server_path ? server_path : kDefaultPath;
    env["HOME"] = sb->spec.workspace_path;
    env["LANG"] = "C.UTF-8";
    env["TERM"] = "dumb";
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
    req.search_path = env["PATH"];
    req.limits = sb->spec.limits;
    req.apply_nproc = !is_root_;
    req.timeout_ms = spec.timeout_ms;
    req.max_output_bytes = spec.max_output_bytes;
    req.kill_grace_ms = config_.kill_grace_ms;
    req.stdin_data = spec.stdin_data;

    RunResult r = run_command(req, sink, [&](pid_t pgid) {
      std::lock_guard<std::mutex> lock(sb->mu);
      sb->groups.insert(pgid);
      // destroy_sandbox ran while we were starting: do not leave anything behind.
      if (sb->destroyed) ::kill(-pgid, SIGKILL);
    });
    {
      std::lock_guard<std::mutex> lock(sb->mu);
      if (sb->destroyed) {
        ::kill(-r.pgid, SIGKILL);
        sb->groups.erase(r.pgid);
      } else if (!r.group_still_alive) {
        sb->groups.erase(r.pgid);
      }
      // Forget left-behind groups that have ended meanwhile.
      for (auto it = sb->groups.begin(); it != sb->groups.end();) {
        it = (*it != r.pgid && !process_group_alive(*it)) ? sb->groups.erase(it) : std::next(it);
      }
    }
    return result_json(r);
  }

  void destroy_sandbox(const std::string& sandbox_id) override {
    std::shared_ptr<Sandbox> sb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sandboxes_.find(sandbox_id);
      if (it == sandboxes_.end()) throw sdk::Error(ISB_NOT_FOUND, "no sandbox '" + sandbox_id + "'");
      sb = it->second;
      sandboxes_.erase(it);
    }
    kill_groups(*sb);
    host_.debug("process backend: destroyed sandbox '" + sandbox_id + "'");
  }

  std::string reconcile(const std::string& known_ids_json) override {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(known_ids_json, ec);
    if (ec || !v.is_array()) {
      throw sdk::Error(ISB_INVALID_ARGUMENT, "known sandbox ids must be a JSON array of strings");
    }
    // Nothing survives a restart in this version: sandboxes live only in this
    // instance's memory and every process they start is a child of the server
    // (or of its children), in process groups the new instance does not know.
    // There is no on-disk or kernel object (container, cgroup, namespace) that
    // could be found and cleaned up, so there is never anything to remove.
    return R"({"removed":[]})";
  }

 private:
  std::shared_ptr<Sandbox> find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sandboxes_.find(id);
    if (it == sandboxes_.end()) throw sdk::Error(ISB_NOT_FOUND, "no sandbox '" + id + "'");
    return it->second;
  }

  static void kill_groups(Sandbox& sb) {
    std::lock_guard<std::mutex> lock(sb.mu);
    sb.destroyed = true;
    for (pid_t pgid : sb.groups) {
      if (process_group_alive(pgid)) ::kill(-pgid, SIGKILL);
    }
    sb.groups.clear();
  }

  static std::string result_json(const RunResult& r) {
    boost::json::object doc;
    doc["exit_code"] = r.exit_code ? boost::json::value(*r.exit_code) : boost::json::value(nullptr);
    doc["signal"] = r.signal ? boost::json::value(*r.signal) : boost::json::value(nullptr);
    doc["signal_name"] = r.signal ? boost::json::value(signal_name(*r.signal)) : boost::json::value(nullptr);
    doc["timed_out"] = r.timed_out;
    doc["cancelled"] = r.cancelled;
    doc["duration_ms"] = r.duration_ms;
    doc["stdout_bytes"] = r.stdout_bytes;
    doc["stderr_bytes"] = r.stderr_bytes;
    doc["output_truncated"] = r.output_truncated;
    doc["usage"] = boost::json::object{{"max_rss_kb", r.max_rss_kb}, {"cpu_ms", r.cpu_ms}};
    if (r.error) doc["error"] = *r.error;
    return boost::json::serialize(doc);
  }

  sdk::Host host_;
  Config config_;
  bool is_root_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_;
};

}  // namespace
}  // namespace isb::process

ISB_PLUGIN(isb::process::ProcessBackend)
