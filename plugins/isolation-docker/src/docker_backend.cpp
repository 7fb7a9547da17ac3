// docker_backend.cpp: the "docker" isolation plugin. One container per
// workspace, created through the Docker Engine API with the workspace
// bind-mounted at /workspace, an init, resource limits in HostConfig, no
// capabilities, no-new-privileges, a read-only root with a writable /tmp and no
// network unless the workspace allows egress. Commands run in exec_runner.cpp.
#include <boost/json.hpp>
#include <cmath>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "config.hpp"
#include "engine_client.hpp"
#include "exec_runner.hpp"
#include "json_fields.hpp"
#include "local_container.hpp"
#include "specs.hpp"

namespace isb::docker {
namespace {

namespace json = boost::json;

constexpr const char* kInstanceLabel = "dev.intelligent-sandbox.instance";
constexpr const char* kWorkspaceLabel = "dev.intelligent-sandbox.workspace";

std::string short_id(const std::string& id) { return id.substr(0, 12); }

//! Percent-encodes a query parameter value.
std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

//! Splits an image reference into the fromImage and tag parameters of a pull.
std::pair<std::string, std::string> split_image_ref(const std::string& ref) {
  if (ref.find('@') != std::string::npos) return {ref, ""};
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  }
  return {ref, "latest"};
}

class DockerBackend : public sdk::IsolationBackend {
 public:
  static sdk::PluginInfo info() {
    return {"docker",
            "Docker isolation",
            "0.1.0",
            "Runs each workspace in its own container through the Docker Engine API (Unix socket or TCP): "
            "namespaces, cgroup limits, seccomp, no capabilities, read-only root, no network.",
            kConfigSchema,
            ISB_CAP_THREAD_SAFE};
  }

  DockerBackend(sdk::Host host, const std::string& config_json)
      : host_(host),
        config_(parse_config(config_json)),
        engine_(config_.host, std::chrono::milliseconds(config_.request_timeout_ms)) {}

  std::string probe() override {
    json::array protections;
    auto prot = [&](const char* name, bool enforced, std::string detail) {
      protections.push_back(
          json::object{{"name", name}, {"enforced", enforced}, {"detail", std::move(detail)}});
    };
    static const char* kAll[] = {"user_namespace",     "mount_namespace",      "pid_namespace",
                                 "network_namespace",  "ipc_namespace",        "uts_namespace",
                                 "cgroup_namespace",   "filesystem_isolation", "seccomp",
                                 "no_new_privs",       "capabilities_dropped", "cgroup_memory",
                                 "cgroup_pids",        "cgroup_cpu",           "rlimits",
                                 "process_group_kill", "wall_clock_timeout"};
    std::string version_doc;
    json::object info;
    try {
      ensure_negotiated();
      version_doc = version_doc_;
      auto r = engine_.request("GET", engine_.path("/info"));
      if (r.status != 200) {
        throw sdk::Error(ISB_UNAVAILABLE,
                         "GET /info answered " + std::to_string(r.status) + ": " + engine_message(r.body));
      }
      info = parse_object(r.body, ISB_UNAVAILABLE, "the engine's /info answer");
    } catch (const sdk::Error& e) {
      for (const char* name : kAll) prot(name, false, "the Docker engine is not available");
      return json::serialize(json::object{{"backend", "docker"},
                                          {"available", false},
                                          {"engine", json::object{{"host", config_.host}}},
                                          {"error", e.what()},
                                          {"protections", std::move(protections)}});
    }
    json::object version = parse_object(version_doc, ISB_UNAVAILABLE, "the engine's /version answer");

    std::set<std::string> secopts;
    std::string seccomp_profile;
    if (auto* so = info.if_contains("SecurityOptions"); so && so->is_array()) {
      for (const auto& o : so->as_array()) {
        if (!o.is_string()) continue;
        std::string s(o.as_string());
        // Entries look like "name=seccomp,profile=default".
        std::string name = s.substr(0, s.find(','));
        if (name.rfind("name=", 0) == 0) name = name.substr(5);
        secopts.insert(name);
        if (name == "seccomp") {
          auto p = s.find("profile=");
          seccomp_profile = p == std::string::npos ? "default" : s.substr(p + 8);
        }
      }
    }
    auto flag = [&](const char* key) {
      auto* v = info.if_contains(key);
      return v && v->is_bool() && v->as_bool();
    };
    std::string cgroup_version = string_at(info, "CgroupVersion");
    bool userns = secopts.count("userns") > 0;
    bool rootless = secopts.count("rootless") > 0;
    bool seccomp = secopts.count("seccomp") > 0 && seccomp_profile != "unconfined";

    prot("user_namespace", userns,
         userns ? "the engine runs with userns-remap: container root is an unprivileged host uid"
                : "the engine has no userns-remap: container root is host uid 0 (without capabilities)");
    prot("mount_namespace", true, "each workspace's container has its own mount namespace");
    prot("pid_namespace", true, "each container has its own PID namespace: commands see only its processes");
    prot("network_namespace", true,
         "NetworkMode none (loopback only) unless the workspace's policy allows egress");
    prot("ipc_namespace", true, "private IPC namespace per container");
    prot("uts_namespace", true, "own hostname per container");
    prot("cgroup_namespace", true, "CgroupnsMode private on every container");
    prot("filesystem_isolation", true,
         "the image's root filesystem read-only, the workspace bind-mounted read-write at /workspace, a "
         "size-capped tmpfs at /tmp; nothing else of the host is mounted");
    prot("seccomp", seccomp,
         seccomp ? "the engine's " + seccomp_profile + " seccomp profile"
                 : "the engine reports no seccomp support: every system call is allowed");
    prot("no_new_privs", true, "SecurityOpt no-new-privileges: setuid binaries gain nothing");
    prot("capabilities_dropped", true, "CapDrop ALL: effective and bounding capability sets are empty");
    prot("cgroup_memory", flag("MemoryLimit"),
         std::string("HostConfig.Memory from resource_limits.memory_mb") +
             (flag("SwapLimit") ? ", MemorySwap equal to it (no swap)"
                                : "; the kernel has no swap accounting"));
    prot("cgroup_pids", flag("PidsLimit"), "HostConfig.PidsLimit from resource_limits.max_processes");
    prot("cgroup_cpu", flag("CpuCfsQuota"), "HostConfig.NanoCpus from resource_limits.cpu_cores (CFS quota)");
    prot(
        "rlimits", true,
        "Ulimits: nofile from max_open_files, fsize from disk_mb (a per-file cap, not a disk quota), core 0");
    bool local = engine_.is_local();
    prot("process_group_kill", true,
         local
             ? "timeout and cancel SIGKILL the command's process group and session by host PID; what escaped "
               "them and still holds the output is ended by restarting the container"
             : "the engine is remote: timeout and cancel restart the container, ending every process in it");
    prot("wall_clock_timeout", true, "timeout_ms per command, then the command's processes are killed");

    json::object engine{{"host", config_.host},
                        {"version", string_at(version, "Version")},
                        {"api_version", engine_.api_version()},
                        {"engine_api_version", string_at(version, "ApiVersion")},
                        {"os", string_at(info, "OperatingSystem")},
                        {"kernel", string_at(info, "KernelVersion")},
                        {"cgroup_version", cgroup_version},
                        {"cgroup_driver", string_at(info, "CgroupDriver")},
                        {"rootless", rootless},
                        {"userns_remap", userns},
                        {"local", local}};
    return json::serialize(json::object{{"backend", "docker"},
                                        {"available", true},
                                        {"isolation", "container"},
                                        {"engine", std::move(engine)},
                                        {"instance_id", config_.instance_id},
                                        {"protections", std::move(protections)}});
  }

  std::string create_sandbox(const std::string& spec_json) override {
    SandboxSpec spec = parse_sandbox_spec(spec_json);
    ensure_negotiated();

    json::object labels{{kInstanceLabel, config_.instance_id}, {kWorkspaceLabel, spec.workspace_id}};
    json::array ulimits{json::object{{"Name", "core"}, {"Soft", 0}, {"Hard", 0}}};
    if (spec.limits.max_open_files) {
      ulimits.push_back(json::object{
          {"Name", "nofile"}, {"Soft", *spec.limits.max_open_files}, {"Hard", *spec.limits.max_open_files}});
    }
    if (spec.limits.disk_mb) {
      int64_t bytes = *spec.limits.disk_mb * 1024 * 1024;
      ulimits.push_back(json::object{{"Name", "fsize"}, {"Soft", bytes}, {"Hard", bytes}});
    }
    json::object host_config{
        {"Binds", json::array{spec.workspace_path + ":" + kWorkspaceMount + ":rw"}},
        {"Init", false},  // see Config::keepalive_command
        {"CapDrop", json::array{"ALL"}},
        {"SecurityOpt", json::array{"no-new-privileges"}},
        {"ReadonlyRootfs", true},
        {"Tmpfs",
         json::object{{"/tmp", "rw,nosuid,nodev,size=" + std::to_string(config_.tmp_size_mb) + "m"}}},
        {"NetworkMode", spec.network_egress ? "default" : "none"},
        {"CgroupnsMode", "private"},
        {"IpcMode", "private"},
        {"Ulimits", std::move(ulimits)},
    };
    if (spec.limits.memory_mb) {
      int64_t bytes = *spec.limits.memory_mb * 1024 * 1024;
      host_config["Memory"] = bytes;
      host_config["MemorySwap"] = bytes;  // equal to Memory: no swap on top
    }
    if (spec.limits.cpu_cores)
      host_config["NanoCpus"] = static_cast<int64_t>(std::llround(*spec.limits.cpu_cores * 1e9));
    if (spec.limits.max_processes) host_config["PidsLimit"] = *spec.limits.max_processes;

    json::array cmd;
    for (const auto& a : config_.keepalive_command) cmd.emplace_back(a);
    json::object body{
        {"Image", spec.image},
        {"Cmd", std::move(cmd)},
        {"Entrypoint", json::array{}},
        {"WorkingDir", kWorkspaceMount},
        {"Env", json::array{std::string("HOME=") + kWorkspaceMount, "LANG=C.UTF-8", "TERM=dumb"}},
        {"Labels", std::move(labels)},
        {"NetworkDisabled", !spec.network_egress},
        {"HostConfig", std::move(host_config)}};
    std::string body_text = json::serialize(body);

    auto r = engine_.request("POST", engine_.path("/containers/create"), body_text);
    if (r.status == 404) {
      pull_image(spec.image, engine_message(r.body));
      r = engine_.request("POST", engine_.path("/containers/create"), body_text);
    }
    if (r.status != 201) {
      throw sdk::Error(r.status == 400 ? ISB_INVALID_ARGUMENT : ISB_ERROR,
                       "the Docker engine refused to create the container for workspace '" +
                           spec.workspace_id + "' from image '" + spec.image +
                           "': " + engine_message(r.body));
    }
    std::string id = string_at(parse_object(r.body, ISB_ERROR, "the engine's create answer"), "Id");
    if (id.empty()) throw sdk::Error(ISB_ERROR, "the engine's create answer has no Id: " + r.body);

    try {
      auto s = engine_.request("POST", engine_.path("/containers/" + id + "/start"));
      if (s.status != 204 && s.status != 304) {
        throw sdk::Error(
            ISB_ERROR, "the Docker engine could not start the container for workspace '" + spec.workspace_id +
                           "' (image '" + spec.image + "'): " + engine_message(s.body) +
                           "; the image must provide the keepalive command (plugins.settings.docker."
                           "keepalive_command)");
      }
      auto target = inspect_target(id);
      std::lock_guard<std::mutex> lock(mu_);
      sandboxes_[id] = std::make_shared<ExecTarget>(target);
    } catch (...) {
      remove_container(id);
      throw;
    }
    host_.info("docker backend: workspace '" + spec.workspace_id + "' runs in container " + short_id(id) +
               " (image " + spec.image + ")");
    return json::serialize(json::object{{"sandbox_id", id},
                                        {"container_id", id},
                                        {"workspace_mount", kWorkspaceMount},
                                        {"image", spec.image},
                                        {"network", spec.network_egress ? "egress" : "none"},
                                        {"resource_limits", spec.limits.to_json()}});
  }

  std::string exec(const std::string& sandbox_id, const std::string& spec_json,
                   sdk::OutputSink& sink) override {
    ExecSpec spec = parse_exec_spec(spec_json);
    ensure_negotiated();
    std::shared_ptr<ExecTarget> target = find(sandbox_id);
    return run_exec(engine_, *target, spec, sink, config_.kill_grace_ms);
  }

  void destroy_sandbox(const std::string& sandbox_id) override {
    ensure_negotiated();
    bool known;
    {
      std::lock_guard<std::mutex> lock(mu_);
      known = sandboxes_.erase(sandbox_id) > 0;
    }
    if (!remove_container(sandbox_id) && !known) {
      throw sdk::Error(ISB_NOT_FOUND, "no container '" + sandbox_id + "' exists on the engine");
    }
    host_.info("docker backend: removed container " + short_id(sandbox_id));
  }

  std::string reconcile(const std::string& known_ids_json) override {
    boost::system::error_code ec;
    json::value v = json::parse(known_ids_json, ec);
    if (ec || !v.is_array())
      throw sdk::Error(ISB_INVALID_ARGUMENT, "known sandbox ids must be a JSON array of strings");
    std::set<std::string> known;
    for (const auto& e : v.as_array()) {
      if (!e.is_string())
        throw sdk::Error(ISB_INVALID_ARGUMENT, "known sandbox ids must be a JSON array of strings");
      known.emplace(e.as_string());
    }
    ensure_negotiated();
    json::array removed;
    for (const std::string& id : labelled_containers()) {
      if (known.count(id)) continue;
      remove_container(id);
      {
        std::lock_guard<std::mutex> lock(mu_);
        sandboxes_.erase(id);
      }
      removed.emplace_back(id);
    }
    if (!removed.empty()) {
      host_.info("docker backend: reconcile removed " + std::to_string(removed.size()) +
                 " container(s) of instance '" + config_.instance_id + "' that no workspace owns");
    }
    return json::serialize(json::object{{"removed", std::move(removed)}});
  }

 private:
  void ensure_negotiated() {
    std::lock_guard<std::mutex> lock(negotiate_mu_);
    if (!version_doc_.empty()) return;
    version_doc_ = engine_.negotiate(config_.api_version);
    host_.info("docker backend: engine at " + config_.host + ", API " + engine_.api_version());
  }

  //! The container's init PID tells whether its processes and cgroup are
  //! visible from here (a local engine in the same PID namespace).
  ExecTarget inspect_target(const std::string& id) {
    auto r = engine_.request("GET", engine_.path("/containers/" + id + "/json"));
    if (r.status == 404) {
      throw sdk::Error(ISB_NOT_FOUND, "container " + short_id(id) +
                                          " no longer exists; it was removed outside the server: destroy and "
                                          "re-create the workspace");
    }
    if (r.status != 200) {
      throw sdk::Error(ISB_ERROR,
                       "inspecting container " + short_id(id) + " failed: " + engine_message(r.body));
    }
    json::object c = parse_object(r.body, ISB_ERROR, "the engine's container inspect answer");
    ExecTarget t;
    t.container_id = string_at(c, "Id");
    std::string instance;
    if (auto* cfg = c.if_contains("Config"); cfg && cfg->is_object()) {
      if (auto* l = cfg->as_object().if_contains("Labels"); l && l->is_object()) {
        instance = string_at(l->as_object(), kInstanceLabel);
      }
    }
    if (instance != config_.instance_id) {
      throw sdk::Error(ISB_NOT_FOUND, "container " + short_id(id) +
                                          " is not a sandbox of this server (instance '" +
                                          config_.instance_id + "')");
    }
    int64_t pid = 0;
    if (auto* st = c.if_contains("State"); st && st->is_object()) {
      if (auto* p = st->as_object().if_contains("Pid")) pid = as_int(*p).value_or(0);
    }
    if (engine_.is_local() && pid > 0) {
      t.cgroup = find_container_cgroup(static_cast<pid_t>(pid), t.container_id);
      t.local_pids = t.cgroup.has_value();
    }
    return t;
  }

  //! The sandbox for id; adopts a labelled container created by an earlier run.
  std::shared_ptr<ExecTarget> find(const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sandboxes_.find(id);
      if (it != sandboxes_.end()) return it->second;
    }
    auto t = std::make_shared<ExecTarget>(inspect_target(id));
    std::lock_guard<std::mutex> lock(mu_);
    sandboxes_[id] = t;
    return t;
  }

  //! Removes the container and its anonymous volumes. False when it did not exist.
  bool remove_container(const std::string& id) {
    auto r = engine_.request("DELETE", engine_.path("/containers/" + id + "?force=true&v=true"));
    if (r.status == 204) return true;
    if (r.status == 404) return false;
    throw sdk::Error(ISB_ERROR, "removing container " + short_id(id) + " failed: " + engine_message(r.body));
  }

  std::vector<std::string> labelled_containers() {
    std::string filters = json::serialize(
        json::object{{"label", json::array{std::string(kInstanceLabel) + "=" + config_.instance_id}}});
    auto r = engine_.request("GET", engine_.path("/containers/json?all=true&filters=" + url_encode(filters)));
    if (r.status != 200) {
      throw sdk::Error(ISB_ERROR, "listing this server's containers failed: " + engine_message(r.body));
    }
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_array()) throw sdk::Error(ISB_ERROR, "the engine's container list is not a JSON array");
    std::vector<std::string> ids;
    for (const auto& c : v.as_array()) {
      if (c.is_object()) ids.push_back(string_at(c.as_object(), "Id"));
    }
    return ids;
  }

  //! Pulls a missing image; progress goes to the log. Throws naming the image.
  void pull_image(const std::string& image, const std::string& create_message) {
    auto [from, tag] = split_image_ref(image);
    std::string target = engine_.path("/images/create?fromImage=" + url_encode(from));
    if (!tag.empty()) target += "&tag=" + url_encode(tag);
    host_.info("docker backend: image '" + image + "' is not on the engine; pulling it");
    std::string failure;
    try {
      auto r = engine_.request("POST", target, "", std::chrono::milliseconds(config_.pull_timeout_ms));
      if (r.status != 200) {
        failure = engine_message(r.body);
      } else {
        // The answer is a stream of JSON progress lines; an error ends it with {"error": ...}.
        size_t pos = 0;
        while (pos < r.body.size()) {
          size_t nl = r.body.find('\n', pos);
          std::string line = r.body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
          pos = nl == std::string::npos ? r.body.size() : nl + 1;
          boost::system::error_code ec;
          json::value v = json::parse(line, ec);
          if (ec || !v.is_object()) continue;
          std::string err = string_at(v.as_object(), "error");
          if (!err.empty()) failure = err;
          std::string status = string_at(v.as_object(), "status");
          if (!status.empty()) host_.debug("docker backend: pull " + image + ": " + status);
        }
      }
    } catch (const sdk::Error& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      throw sdk::Error(
          ISB_INVALID_ARGUMENT,
          "image '" + image + "' is not on the Docker engine (" + create_message +
              ") and could not be pulled: " + failure +
              ". Build or load it locally (docker load, docker import, scripts/build-test-image.sh) or "
              "set isolation.container_image to an image the engine has");
    }
  }

  sdk::Host host_;
  Config config_;
  EngineClient engine_;
  std::mutex negotiate_mu_;
  std::string version_doc_;  // guarded by negotiate_mu_; empty until negotiated
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ExecTarget>> sandboxes_;  // guarded by mu_
};

}  // namespace
}  // namespace isb::docker

ISB_PLUGIN(isb::docker::DockerBackend)
