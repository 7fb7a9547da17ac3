// docker_backend.cpp: the "docker" isolation plugin. One container per
// workspace, created through the Docker Engine API with the workspace
// bind-mounted at /workspace, an init, resource limits in HostConfig, no
// capabilities, no-new-privileges, a read-only root with a writable /tmp and no
// network unless the workspace allows egress. Commands run in exec_runner.cpp.
#include <dlfcn.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "agent_binary.hpp"
#include "agent_exec.hpp"
#include "archive_ops.hpp"
#include "config.hpp"
#include "engine_access.hpp"
#include "engine_client.hpp"
#include "exec_runner.hpp"
#include "isolation-common/json_fields.hpp"
#include "isolation-common/process_tree.hpp"
#include "local_container.hpp"
#include "mux_decoder.hpp"
#include "seccomp_profile.hpp"
#include "specs.hpp"

namespace isb::docker {

using isolation::as_int;
using isolation::parse_object;
using isolation::string_at;
namespace {

namespace json = boost::json;

constexpr const char* kInstanceLabel = "dev.intelligent-sandbox.instance";
constexpr const char* kWorkspaceLabel = "dev.intelligent-sandbox.workspace";
// On an egress container: the name of the network made for it alone.
constexpr const char* kNetworkLabel = "dev.intelligent-sandbox.network";
// On a warm pool container: its slot, the host directory bound at /workspace.
constexpr const char* kSlotLabel = "dev.intelligent-sandbox.slot";
// Where warm pool slots live: <root>/<instance>/<random>, each a shared bind
// mount of itself onto which a claimed workspace is bound.
constexpr const char* kSlotRoot = "/run/intelligent-sandbox/docker-pool";

std::string short_id(const std::string& id) { return id.substr(0, 12); }

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

//! The static isb-supervisor that plugins/sandbox-agent builds next to the
//! plugins; the docker backend runs it as each container's agent.
std::string supervisor_next_to_plugin() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&supervisor_next_to_plugin), &info) == 0 || !info.dli_fname) return "";
  return (std::filesystem::path(info.dli_fname).parent_path() / "isb-supervisor").string();
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
        engine_(config_.host, std::chrono::milliseconds(config_.request_timeout_ms), config_.api_version),
        supervisor_path_(supervisor_next_to_plugin()),
        agent_binary_(supervisor_path_, config_.instance_id),
        seccomp_profile_(json::serialize(
            parse_object(kContainerSeccompProfile, ISB_ERROR, "the embedded seccomp profile"))) {
    if (config_.warm_pool > 0) filler_ = std::thread([this] { fill_pool(); });
  }

  ~DockerBackend() override {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      stopping_ = true;
    }
    pool_cv_.notify_all();
    if (filler_.joinable()) filler_.join();
    // Unclaimed containers go; claimed ones are workspaces and stay.
    for (const auto& w : pool_) {
      try {
        remove_container(w.container_id);
      } catch (const sdk::Error&) {
      }
      release_slot(w.slot);
    }
    if (config_.warm_pool > 0) {
      // Only when empty: slots of claimed workspaces live on.
      ::rmdir((std::string(kSlotRoot) + "/" + config_.instance_id).c_str());
    }
  }

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
    json::object info;
    EngineClient::Negotiated negotiated;
    try {
      ensure_negotiated();
      auto r = engine_.request("GET", "/info");
      if (r.status != 200) {
        throw sdk::Error(ISB_UNAVAILABLE,
                         "GET /info answered " + std::to_string(r.status) + ": " + engine_message(r.body));
      }
      info = parse_object(r.body, ISB_UNAVAILABLE, "the engine's /info answer");
      auto n = engine_.negotiated();
      if (!n)
        throw sdk::Error(ISB_UNAVAILABLE,
                         "the Docker engine at " + config_.host + " changed during the probe");
      negotiated = *n;
    } catch (const sdk::Error& e) {
      for (const char* name : kAll) prot(name, false, "the Docker engine is not available");
      // What the engine offers, when it answered /version at all: the
      // message then says why no API version fits.
      json::object engine{{"host", config_.host}, {"supported_api_versions", supported_api_versions()}};
      if (auto ev = engine_.last_engine_version()) add_engine_versions(engine, *ev);
      json::object doc{{"backend", "docker"},
                       {"available", false},
                       {"engine", std::move(engine)},
                       {"error", e.what()},
                       {"protections", std::move(protections)}};
      if (std::string fix = engine_unreachable_fix(config_.host); !fix.empty()) doc["fix"] = fix;
      return json::serialize(doc);
    }

    std::set<std::string> secopts = engine_security_options(info);
    auto flag = [&](const char* key) {
      auto* v = info.if_contains(key);
      return v && v->is_bool() && v->as_bool();
    };
    std::string cgroup_version = string_at(info, "CgroupVersion");
    bool userns = secopts.count("userns") > 0;
    bool rootless = secopts.count("rootless") > 0;
    // Every container gets the plugin's own profile, whatever the engine's
    // default is (even "unconfined"), wherever the engine can apply one.
    bool seccomp = secopts.count("seccomp") > 0;

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
         seccomp ? "the plugin's own profile (seccomp/container-profile.json): Docker's default allowlist "
                   "without ptrace, process_vm_readv/writev and io_uring_*, native ABI only"
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
    std::string why_not_agent = agent_unavailable_reason();
    bool agent = config_.exec_path != "exec_api" && why_not_agent.empty();
    prot("process_group_kill", true,
         agent
             ? "timeout and cancel signal the command's process group through the in-container agent "
               "(SIGTERM, SIGKILL after kill_grace_ms), then SIGKILL what is left of its group or session by "
               "host PID"
         : local
             ? "timeout and cancel SIGKILL the command's process group and session by host PID; what escaped "
               "them and still holds the output is ended by restarting the container"
             : "the engine is remote: timeout and cancel restart the container, ending every process in it");
    prot("wall_clock_timeout", true,
         agent ? "timeout_ms per command, then the command's processes are killed; no call waits longer than "
                 "timeout + kill_grace_ms + reply_margin_ms for the agent: one that misses it is lost, its "
                 "container killed"
               : "timeout_ms per command, then the command's processes are killed");

    json::object engine{
        {"host", config_.host},
        {"api_version", negotiated.api.str()},
        {"api_version_source", engine_.api_forced() ? "configured (api_version)" : "negotiated"},
        {"supported_api_versions", supported_api_versions()},
        {"os", string_at(info, "OperatingSystem")},
        {"kernel", string_at(info, "KernelVersion")},
        {"cgroup_version", cgroup_version},
        {"cgroup_driver", string_at(info, "CgroupDriver")},
        {"rootless", rootless},
        {"userns_remap", userns},
        {"local", local},
        {"exec_path", agent ? "agent" : "exec_api"}};
    add_engine_versions(engine, negotiated.engine);
    // What a command can still learn of the host from /proc/self/mountinfo.
    json::array mountinfo{
        "the workspace's path within its host filesystem (the root field of /workspace: a bind mount "
        "always shows its source's path there, and Docker can only bind a workspace)",
        "the engine's own paths: its data root in the root overlay's options and in the sources of "
        "/etc/hostname, /etc/hosts and /etc/resolv.conf"};
    if (agent) {
      if (std::string e = agent_binary_.exposure(); !e.empty()) mountinfo.emplace_back(e);
    }
    engine["mountinfo_shows"] = std::move(mountinfo);
    if (config_.warm_pool > 0) {
      std::lock_guard<std::mutex> lock(pool_mu_);
      engine["warm_pool"] = json::object{{"size", config_.warm_pool},
                                         {"ready", static_cast<int64_t>(pool_.size())},
                                         {"image", config_.warm_image}};
    }
    if (!agent) {
      engine["exec_path_reason"] =
          config_.exec_path == "exec_api" ? std::string("configured (exec_path: exec_api)") : why_not_agent;
    }
    add_protection_fixes(protections);
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
    if (auto warm = claim_warm(spec)) return *warm;
    std::string why_not_agent = agent_unavailable_reason();
    if (config_.exec_path == "agent" && !why_not_agent.empty()) {
      throw sdk::Error(ISB_NOT_SUPPORTED, "plugins.settings.docker.exec_path is \"agent\" but " +
                                              why_not_agent + "; set it to \"auto\" or \"exec_api\"");
    }
    if (config_.exec_path == "exec_api")
      return start_sandbox(spec, false, "configured (exec_path: exec_api)");
    if (!why_not_agent.empty()) return start_sandbox(spec, false, why_not_agent);
    try {
      return start_sandbox(spec, true, "");
    } catch (const AgentStartError& e) {
      if (config_.exec_path == "agent") throw;
      host_.warn(std::string("docker backend: ") + e.what() + "; workspace '" + spec.workspace_id +
                 "' uses the engine's exec API instead");
      return start_sandbox(spec, false, e.what());
    }
  }

  std::string exec(const std::string& sandbox_id, const std::string& spec_json,
                   sdk::OutputSink& sink) override {
    json::object doc = parse_object(spec_json, ISB_INVALID_ARGUMENT, "the exec spec");
    if (doc.contains("op")) {
      // A file operation through the archive endpoints (archive_ops.hpp).
      ArchiveOp op = parse_archive_op(doc);
      ensure_negotiated();
      return run_archive_op(engine_, find(sandbox_id)->container_id, op, sink);
    }
    ExecSpec spec = parse_exec_spec(spec_json);
    ensure_negotiated();
    std::shared_ptr<ExecTarget> target = find(sandbox_id);
    if (!target->agent) return run_exec(engine_, *target, spec, sink, config_.kill_grace_ms);

    if (!target->running) {
      throw sdk::Error(ISB_UNAVAILABLE, "workspace sandbox is gone: container " + short_id(sandbox_id) +
                                            " is no longer running (" + target->state +
                                            "; did the engine restart? The server also kills a container "
                                            "whose agent it lost); destroy and re-create the workspace");
    }
    if (std::string lost = agent_lost_reason(*target->agent); !lost.empty()) {
      throw failed_sandbox(sandbox_id, lost, false);
    }
    std::string detail;
    AgentWaits waits{config_.kill_grace_ms, config_.reply_margin_ms};
    if (auto result = run_agent_exec(*target, spec, sink, waits, &detail)) return *result;
    agent_lost(sandbox_id, *target, detail);
  }

  void destroy_sandbox(const std::string& sandbox_id) override {
    ensure_negotiated();
    bool known;
    {
      std::lock_guard<std::mutex> lock(mu_);
      known = sandboxes_.erase(sandbox_id) > 0;
    }
    json::object labels = container_labels(sandbox_id);
    if (!remove_container(sandbox_id) && !known) {
      throw sdk::Error(ISB_NOT_FOUND, "no container '" + sandbox_id + "' exists on the engine");
    }
    if (std::string network = string_at(labels, kNetworkLabel); !network.empty()) remove_network(network);
    release_slot(string_at(labels, kSlotLabel));
    host_.info("docker backend: removed container " + short_id(sandbox_id));
  }

  std::string sandbox_status(const std::string& sandbox_id) override {
    std::shared_ptr<ExecTarget> t = find(sandbox_id);
    if (!t->running) return json::serialize(json::object{{"processes", 0}});
    int64_t processes = -1;
    // Every process of the container is in its cgroup (exec API processes
    // too, which are not PID 1's children); PID 1 itself does not count.
    if (t->cgroup) {
      if (std::FILE* f = std::fopen((t->cgroup->memory_dir + "/cgroup.procs").c_str(), "r")) {
        processes = 0;
        for (long pid = 0; std::fscanf(f, "%ld", &pid) == 1;) processes += pid != t->init_pid ? 1 : 0;
        std::fclose(f);
      }
    }
    if (processes < 0 && t->init_pid > 0) processes = isolation::count_children(t->init_pid);
    if (processes < 0) {
      throw sdk::Error(ISB_NOT_SUPPORTED, "cannot see the processes of container " + t->container_id +
                                              " from here (a remote engine)");
    }
    return json::serialize(json::object{{"processes", processes}});
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
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      for (const auto& w : pool_) known.insert(w.container_id);  // this instance's own warm pool
      for (const auto& id : pool_in_flight_) known.insert(id);
    }
    for (const std::string& id : labelled_containers()) {
      if (known.count(id)) continue;
      std::string slot = string_at(container_labels(id), kSlotLabel);
      remove_container(id);
      release_slot(slot);
      {
        std::lock_guard<std::mutex> lock(mu_);
        sandboxes_.erase(id);
      }
      removed.emplace_back(id);
    }
    // Egress networks of removed containers; those still in use are refused
    // by the engine and stay.
    for (const std::string& name : labelled_networks()) remove_network(name);
    if (!removed.empty()) {
      host_.info("docker backend: reconcile removed " + std::to_string(removed.size()) +
                 " container(s) of instance '" + config_.instance_id + "' that no workspace owns");
    }
    return json::serialize(json::object{{"removed", std::move(removed)}});
  }

 private:
  //! The agent could not be started in a new container (the container is removed).
  class AgentStartError : public sdk::Error {
   public:
    explicit AgentStartError(const std::string& m) : sdk::Error(ISB_UNAVAILABLE, m) {}
  };

  //! "" when containers of this engine can run the agent, else why not.
  std::string agent_unavailable_reason() const {
    if (!engine_.is_local()) {
      return "the engine at " + config_.host +
             " is remote (the agent is bind-mounted from this host and reached through /proc)";
    }
    if (supervisor_path_.empty() || ::access(supervisor_path_.c_str(), X_OK) != 0) {
      return "isb-supervisor, the agent program, is not next to the plugin (" +
             (supervisor_path_.empty() ? std::string("plugin directory unknown") : supervisor_path_) +
             "); build the isb-supervisor target";
    }
    return "";
  }

  //! Creates and starts the workspace's container, with the agent as PID 1 or
  //! for the exec API. Throws AgentStartError when the agent did not come up.
  std::string start_sandbox(const SandboxSpec& spec, bool agent, const std::string& exec_api_reason) {
    std::string network = spec.network_egress ? create_egress_network(spec.workspace_id) : "";
    try {
      return start_container(spec, agent, exec_api_reason, network, "");
    } catch (...) {
      if (!network.empty()) remove_network(network);
      throw;
    }
  }

  //! slot: for a warm pool container, the slot bound at /workspace with slave
  //! propagation (the workspace is bound onto it when it is claimed).
  std::string start_container(const SandboxSpec& spec, bool agent, const std::string& exec_api_reason,
                              const std::string& network, const std::string& slot) {
    json::object labels{{kInstanceLabel, config_.instance_id}, {kWorkspaceLabel, spec.workspace_id}};
    if (!network.empty()) labels[kNetworkLabel] = network;
    if (!slot.empty()) labels[kSlotLabel] = slot;
    json::array ulimits{json::object{{"Name", "core"}, {"Soft", 0}, {"Hard", 0}}};
    if (spec.limits.max_open_files) {
      ulimits.push_back(json::object{
          {"Name", "nofile"}, {"Soft", *spec.limits.max_open_files}, {"Hard", *spec.limits.max_open_files}});
    }
    if (spec.limits.disk_mb) {
      int64_t bytes = *spec.limits.disk_mb * 1024 * 1024;
      ulimits.push_back(json::object{{"Name", "fsize"}, {"Soft", bytes}, {"Hard", bytes}});
    }
    json::array binds{spec.workspace_path + ":" + kWorkspaceMount + (slot.empty() ? ":rw" : ":rw,rslave")};
    json::object tmpfs{{"/tmp", "rw,nosuid,nodev,size=" + std::to_string(config_.tmp_size_mb) + "m"}};
    json::array cmd;
    if (agent) {
      binds.emplace_back(agent_binary_.source() + ":" + kAgentBinaryMount + ":ro");
      // The agent's socket lives on a small tmpfs of the container's own, not
      // in a host directory: a command can write there, and must not be able
      // to fill a host filesystem.
      tmpfs[kAgentRunDir] = "rw,nosuid,nodev,noexec,size=64k,mode=0700";
      for (const char* a : {kAgentBinaryMount, "agent", kAgentRunDir}) cmd.emplace_back(a);
    } else {
      for (const auto& a : config_.keepalive_command) cmd.emplace_back(a);
    }
    json::array security_opt{"no-new-privileges"};
    // Ours, not the engine's default: no ptrace (a command could freeze the
    // agent, PID 1, and every call waiting on it), no io_uring.
    if (engine_seccomp()) security_opt.emplace_back("seccomp=" + seccomp_profile_);
    json::object host_config{
        {"Binds", std::move(binds)},
        {"Init", false},  // PID 1 is the agent or keepalive_command, see Config
        {"CapDrop", json::array{"ALL"}},
        {"SecurityOpt", std::move(security_opt)},
        {"ReadonlyRootfs", true},
        {"Tmpfs", std::move(tmpfs)},
        {"NetworkMode", network.empty() ? std::string("none") : network},
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

    auto r = engine_.request("POST", "/containers/create", body_text);
    if (r.status == 404) {
      pull_image(spec.image, engine_message(r.body));
      r = engine_.request("POST", "/containers/create", body_text);
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
      auto s = engine_.request("POST", "/containers/" + id + "/start");
      if (s.status != 204 && s.status != 304) {
        std::string msg = "the Docker engine could not start the container for workspace '" +
                          spec.workspace_id + "' (image '" + spec.image + "'): " + engine_message(s.body);
        if (agent) throw AgentStartError(msg + " (with the agent as PID 1)");
        throw sdk::Error(ISB_ERROR,
                         msg +
                             "; the image must provide the keepalive command (plugins.settings.docker."
                             "keepalive_command)");
      }
      auto target = std::make_shared<ExecTarget>(inspect_target(id));
      if (agent) {
        if (!target->agent || !target->local_pids) {
          throw AgentStartError(
              "the agent of container " + short_id(id) +
              " is not reachable from here (its processes are not visible in this host's /proc)");
        }
        try {
          connect_agent(*target->agent, std::chrono::milliseconds(config_.agent_start_timeout_ms));
        } catch (const sdk::Error& e) {
          throw AgentStartError(std::string(e.what()) + " (container log: " + container_log_tail(id) + ")");
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      sandboxes_[id] = target;
    } catch (...) {
      remove_container(id);
      throw;
    }
    host_.info("docker backend: workspace '" + spec.workspace_id + "' runs in container " + short_id(id) +
               " (image " + spec.image + ", commands through the " + (agent ? "agent" : "exec API") + ")");
    json::object result{{"sandbox_id", id},
                        {"container_id", id},
                        {"workspace_mount", kWorkspaceMount},
                        {"image", spec.image},
                        {"network", network.empty() ? "none" : "egress"},
                        {"resource_limits", spec.limits.to_json()},
                        {"exec_path", agent ? "agent" : "exec_api"}};
    if (!agent) result["exec_path_reason"] = exec_api_reason;
    if (!network.empty()) result["network_name"] = network;
    return json::serialize(result);
  }

  //! A network for one egress workspace alone, so that workspaces never share
  //! a bridge. Throws Error(ISB_NOT_SUPPORTED) when the engine cannot make one.
  std::string create_egress_network(const std::string& workspace_id) {
    std::string name = "isb-" + config_.instance_id + "-" + random_hex(6);
    json::object body{
        {"Name", name},
        {"Driver", "bridge"},
        {"Internal", false},
        {"Labels", json::object{{kInstanceLabel, config_.instance_id}, {kWorkspaceLabel, workspace_id}}},
        {"Options", json::object{{"com.docker.network.bridge.enable_icc", "false"}}}};
    // Before 1.44 a duplicate name is refused only on request; from 1.44 always,
    // and the field is deprecated.
    if (network_create_takes_check_duplicate(engine_.negotiate().api)) body["CheckDuplicate"] = true;
    auto r = engine_.request("POST", "/networks/create", json::serialize(body));
    if (r.status != 201) {
      throw sdk::Error(ISB_NOT_SUPPORTED,
                       "network \"egress\" refused for workspace '" + workspace_id +
                           "': the Docker engine could not create a network for it (" +
                           engine_message(r.body) +
                           "). Host networking is never used instead, since it is no isolation; use network "
                           "\"none\" or let the engine create bridge networks");
    }
    return name;
  }

  void remove_network(const std::string& name) {
    try {
      auto r = engine_.request("DELETE", "/networks/" + url_encode(name));
      if (r.status != 204 && r.status != 404 && r.status != 403) {
        host_.warn("docker backend: removing network " + name + " failed: " + engine_message(r.body));
      }
    } catch (const sdk::Error& e) {
      host_.warn(std::string("docker backend: removing network ") + name + " failed: " + e.what());
    }
  }

  std::vector<std::string> labelled_networks() {
    std::string filters = json::serialize(
        json::object{{"label", json::array{std::string(kInstanceLabel) + "=" + config_.instance_id}}});
    auto r = engine_.request("GET", "/networks?filters=" + url_encode(filters));
    std::vector<std::string> names;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (r.status != 200 || ec || !v.is_array()) return names;
    for (const auto& n : v.as_array()) {
      if (n.is_object()) names.push_back(string_at(n.as_object(), "Name"));
    }
    return names;
  }

  //! The container's labels; empty when it does not exist.
  json::object container_labels(const std::string& id) {
    auto r = engine_.request("GET", "/containers/" + id + "/json");
    if (r.status != 200) return {};
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return {};
    if (auto* cfg = v.as_object().if_contains("Config"); cfg && cfg->is_object()) {
      if (auto* l = cfg->as_object().if_contains("Labels"); l && l->is_object()) return l->as_object();
    }
    return {};
  }

  // ---- warm pool --------------------------------------------------------

  struct WarmContainer {
    std::string container_id;
    std::string slot;
  };

  //! Keeps config_.warm_pool containers ready until the instance ends.
  void fill_pool() {
    std::unique_lock<std::mutex> lock(pool_mu_);
    while (!stopping_) {
      if (pool_.size() + pool_in_flight_.size() >= static_cast<size_t>(config_.warm_pool)) {
        pool_cv_.wait(lock);
        continue;
      }
      pool_in_flight_.insert("");
      lock.unlock();
      std::optional<WarmContainer> made;
      std::string error;
      try {
        ensure_negotiated();
        made = make_warm();
      } catch (const std::exception& e) {
        error = e.what();
      }
      lock.lock();
      pool_in_flight_.erase("");
      if (made) {
        pool_.push_back(*made);
        pool_cv_.notify_all();
      } else {
        host_.warn("docker backend: warm pool container not made: " + error + "; retrying in 2 s");
        pool_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; });
      }
    }
  }

  //! One started container of warm_image with the agent listening, its
  //! /workspace the (empty) slot directory with slave propagation.
  WarmContainer make_warm() {
    std::string slot = make_slot();
    try {
      SandboxSpec spec;
      spec.workspace_id = "warm-pool";
      spec.workspace_path = slot;
      spec.image = config_.warm_image;
      spec.limits = config_.warm_resource_limits;
      json::object r = parse_object(start_container(spec, true, "", "", slot), ISB_ERROR,
                                    "the warm container's create result");
      return WarmContainer{std::string(r.at("sandbox_id").as_string()), slot};
    } catch (...) {
      release_slot(slot);
      throw;
    }
  }

  //! A new slot directory that is a shared mount of its own, so a bind made
  //! onto it later propagates into the container's rslave /workspace.
  std::string make_slot() {
    std::string dir = std::string(kSlotRoot) + "/" + config_.instance_id + "/" + random_hex(8);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw sdk::Error(ISB_ERROR, "cannot create warm pool slot " + dir + ": " + ec.message());
    if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, dir.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
      std::string why = strerror(errno);
      release_slot(dir);
      throw sdk::Error(ISB_ERROR, "cannot make warm pool slot " + dir + " a shared mount: " + why +
                                      " (the warm pool needs root)");
    }
    return dir;
  }

  //! Unmounts a slot (the claimed workspace and the slot's own bind) and removes it.
  static void release_slot(const std::string& slot) {
    if (slot.rfind(std::string(kSlotRoot) + "/", 0) != 0 || slot.find("..") != std::string::npos) return;
    for (int i = 0; i < 4 && ::umount2(slot.c_str(), MNT_DETACH) == 0; ++i) {
    }
    ::rmdir(slot.c_str());
  }

  //! A ready pool container turned into spec's workspace, or nullopt when the
  //! spec does not fit the pool or none is ready (then a cold create follows).
  std::optional<std::string> claim_warm(const SandboxSpec& spec) {
    const ResourceLimits& w = config_.warm_resource_limits;
    if (config_.warm_pool == 0 || spec.image != config_.warm_image || spec.network_egress ||
        spec.limits.disk_mb != w.disk_mb || spec.limits.max_open_files != w.max_open_files) {
      return std::nullopt;  // ulimits and networks cannot be changed on a created container
    }
    WarmContainer c;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (pool_.empty()) return std::nullopt;
      c = pool_.front();
      pool_.erase(pool_.begin());
      pool_in_flight_.insert(c.container_id);
    }
    auto done = [&] {
      {
        std::lock_guard<std::mutex> lock(pool_mu_);
        pool_in_flight_.erase(c.container_id);
      }
      pool_cv_.notify_all();  // the filler makes a replacement
    };
    try {
      if (::mount(spec.workspace_path.c_str(), c.slot.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        throw sdk::Error(ISB_ERROR,
                         "binding " + spec.workspace_path + " onto slot " + c.slot + ": " + strerror(errno));
      }
      json::object update;
      if (spec.limits.memory_mb) {
        update["Memory"] = *spec.limits.memory_mb * 1024 * 1024;
        update["MemorySwap"] = *spec.limits.memory_mb * 1024 * 1024;
      }
      if (spec.limits.cpu_cores)
        update["NanoCpus"] = static_cast<int64_t>(std::llround(*spec.limits.cpu_cores * 1e9));
      if (spec.limits.max_processes) update["PidsLimit"] = *spec.limits.max_processes;
      if (!update.empty()) {
        auto r =
            engine_.request("POST", "/containers/" + c.container_id + "/update", json::serialize(update));
        if (r.status != 200) throw sdk::Error(ISB_ERROR, "updating its limits: " + engine_message(r.body));
      }
    } catch (const sdk::Error& e) {
      host_.warn(std::string("docker backend: warm container ") + short_id(c.container_id) + " not usable (" +
                 e.what() + "); creating one for workspace '" + spec.workspace_id + "'");
      try {
        remove_container(c.container_id);
      } catch (const sdk::Error&) {
      }
      release_slot(c.slot);
      done();
      return std::nullopt;
    }
    done();
    host_.info("docker backend: workspace '" + spec.workspace_id + "' took warm container " +
               short_id(c.container_id));
    return json::serialize(json::object{{"sandbox_id", c.container_id},
                                        {"container_id", c.container_id},
                                        {"workspace_mount", kWorkspaceMount},
                                        {"image", spec.image},
                                        {"network", "none"},
                                        {"resource_limits", spec.limits.to_json()},
                                        {"exec_path", "agent"},
                                        {"warm", true}});
  }

  static std::string random_hex(size_t bytes) {
    std::random_device rd;
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes; ++i) {
      unsigned v = rd() & 0xff;
      out += hex[v >> 4];
      out += hex[v & 15];
    }
    return out;
  }

  //! The last lines the container wrote (the agent says there why it stopped).
  std::string container_log_tail(const std::string& id) {
    try {
      auto r = engine_.request("GET", "/containers/" + id + "/logs?stdout=true&stderr=true&tail=5");
      if (r.status != 200) return "unavailable";
      // Multiplexed frames; keep only the payload text.
      std::string text;
      MuxDecoder d;
      d.feed(r.body.data(), r.body.size(), [&](int, const char* p, size_t n) { text.append(p, n); });
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      return text.empty() ? "empty" : text;
    } catch (const sdk::Error&) {
      return "unavailable";
    }
  }

  //! The error of a workspace whose agent was given up (give_up_agent).
  sdk::Error failed_sandbox(const std::string& id, const std::string& why, bool just_now) const {
    return sdk::Error(ISB_UNAVAILABLE,
                      "workspace sandbox failed: the in-container agent of container " + short_id(id) +
                          " was lost" + (just_now ? "" : " earlier") + " (" + why +
                          "). The server killed the container, since nothing could end what runs there any "
                          "more, and never reconnects to whatever listens on the agent's socket after that. "
                          "Destroy and re-create the workspace (its files stay on the host until then)");
  }

  //! After the agent failed a command (lost_detail from run_agent_exec): gives
  //! it up and throws. A container that stopped under the server (engine
  //! restart, removed outside) is reported as gone, else as failed.
  [[noreturn]] void agent_lost(const std::string& id, ExecTarget& target, const std::string& detail) {
    if (give_up_agent(*target.agent, detail)) {
      host_.warn("docker backend: the agent of container " + short_id(id) + " was lost (" + detail +
                 "); container killed, workspace failed");
      throw failed_sandbox(id, detail, true);
    }
    // PID 1 had exited already: the engine stopped or removed the container.
    // The next call looks at it afresh.
    {
      std::lock_guard<std::mutex> lock(mu_);
      sandboxes_.erase(id);
    }
    ExecTarget t;
    try {
      t = inspect_target(id);
    } catch (const sdk::Error& e) {
      std::string what = e.what();
      if (what.rfind("workspace sandbox is gone: ", 0) != 0) what = "workspace sandbox is gone: " + what;
      throw sdk::Error(e.status(), what + " (the command ended with it: " + detail + ")");
    }
    throw sdk::Error(ISB_UNAVAILABLE, "workspace sandbox is gone: container " + short_id(id) +
                                          " stopped while the command ran (" + t.state +
                                          ", the command ended with it; did the engine restart?); destroy "
                                          "and re-create the workspace");
  }

  //! Negotiates the API version (engine_client.hpp) and reads, once per
  //! negotiation, what the containers' create depends on in /info.
  void ensure_negotiated() {
    EngineClient::Negotiated n = engine_.negotiate();
    std::lock_guard<std::mutex> lock(negotiate_mu_);
    if (info_generation_ == n.generation) return;
    auto r = engine_.request("GET", "/info");
    if (r.status != 200) {
      throw sdk::Error(ISB_UNAVAILABLE,
                       "GET /info answered " + std::to_string(r.status) + ": " + engine_message(r.body));
    }
    engine_seccomp_ =
        engine_security_options(parse_object(r.body, ISB_UNAVAILABLE, "the engine's /info answer"))
            .count("seccomp") > 0;
    info_generation_ = n.generation;
    host_.info("docker backend: engine at " + config_.host + " is Docker " + n.engine.version + " (" +
               (n.engine.min_api ? "API " + n.engine.min_api->str() + " to " : std::string("API up to ")) +
               n.engine.api.str() + "); speaking API " + n.api.str() +
               (engine_.api_forced() ? " (configured)" : ", the newest both sides speak"));
  }

  static json::object supported_api_versions() {
    return json::object{{"oldest", kOldestApi.str()}, {"newest", kNewestApi.str()}};
  }

  //! The engine's release and API range, as its /version said.
  static void add_engine_versions(json::object& engine, const EngineVersion& ev) {
    engine["version"] = ev.version;
    engine["engine_api_version"] = ev.api.str();
    if (ev.min_api) engine["engine_min_api_version"] = ev.min_api->str();
  }

  //! The names in /info's SecurityOptions ("name=seccomp,profile=default" -> "seccomp").
  static std::set<std::string> engine_security_options(const json::object& info) {
    std::set<std::string> names;
    if (auto* so = info.if_contains("SecurityOptions"); so && so->is_array()) {
      for (const auto& o : so->as_array()) {
        if (!o.is_string()) continue;
        std::string s(o.as_string());
        std::string name = s.substr(0, s.find(','));
        if (name.rfind("name=", 0) == 0) name = name.substr(5);
        names.insert(name);
      }
    }
    return names;
  }

  bool engine_seccomp() {
    std::lock_guard<std::mutex> lock(negotiate_mu_);
    return engine_seccomp_;
  }

  //! The container's init PID tells whether its processes and cgroup are
  //! visible from here (a local engine in the same PID namespace).
  ExecTarget inspect_target(const std::string& id) {
    auto r = engine_.request("GET", "/containers/" + id + "/json");
    if (r.status == 404) {
      throw sdk::Error(ISB_NOT_FOUND, "workspace sandbox is gone: container " + short_id(id) +
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
      if (auto* run = st->as_object().if_contains("Running"); run && run->is_bool())
        t.running = run->as_bool();
      t.state = string_at(st->as_object(), "Status");
    }
    bool agent_init = false;
    if (auto* cfg = c.if_contains("Config"); cfg && cfg->is_object()) {
      if (auto* env = cfg->as_object().if_contains("Env"); env && env->is_array()) {
        for (const auto& e : env->as_array()) {
          if (e.is_string()) t.env.emplace_back(e.as_string());
        }
      }
      if (auto* cmd = cfg->as_object().if_contains("Cmd");
          cmd && cmd->is_array() && !cmd->as_array().empty()) {
        const auto& first = cmd->as_array().front();
        agent_init = first.is_string() && first.as_string() == kAgentBinaryMount;
      }
    }
    t.init_pid = static_cast<pid_t>(pid);
    if (engine_.is_local() && pid > 0) {
      t.cgroup = find_container_cgroup(static_cast<pid_t>(pid), t.container_id);
      t.local_pids = t.cgroup.has_value();
    }
    if (agent_init) {
      t.agent = std::make_shared<AgentChannel>();
      t.agent->init_pid = t.init_pid;
      t.agent->container_id = t.container_id;
    }
    return t;
  }

  //! The sandbox for id; adopts a labelled container created by an earlier
  //! run, connecting to its agent (once: a channel is never re-connected).
  std::shared_ptr<ExecTarget> find(const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sandboxes_.find(id);
      if (it != sandboxes_.end()) return it->second;
    }
    auto t = std::make_shared<ExecTarget>(inspect_target(id));
    if (t->agent && t->running) {
      try {
        connect_agent(*t->agent, std::chrono::milliseconds(config_.agent_start_timeout_ms));
      } catch (const sdk::Error& e) {
        // Its socket was replaced, or the agent does not answer: it cannot be
        // trusted to end what runs there, so the container goes.
        give_up_agent(*t->agent, e.what());
        host_.warn("docker backend: adopting container " + short_id(id) + " failed: " + e.what() +
                   "; container killed, workspace failed");
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    return sandboxes_.emplace(id, t).first->second;
  }

  //! Removes the container and its anonymous volumes. False when it did not exist.
  bool remove_container(const std::string& id) {
    auto r = engine_.request("DELETE", "/containers/" + id + "?force=true&v=true");
    if (r.status == 204) return true;
    if (r.status == 404) return false;
    throw sdk::Error(ISB_ERROR, "removing container " + short_id(id) + " failed: " + engine_message(r.body));
  }

  std::vector<std::string> labelled_containers() {
    std::string filters = json::serialize(
        json::object{{"label", json::array{std::string(kInstanceLabel) + "=" + config_.instance_id}}});
    auto r = engine_.request("GET", "/containers/json?all=true&filters=" + url_encode(filters));
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
    std::string target = "/images/create?fromImage=" + url_encode(from);
    if (!tag.empty()) target += "&tag=" + url_encode(tag);
    host_.info("docker backend: image '" + image + "' is not on the engine; pulling it");
    std::string failure;
    try {
      auto r = engine_.request("POST", target, "", std::chrono::milliseconds(config_.pull_timeout_ms));
      if (r.status != 200) {
        failure = engine_message(r.body);
      } else {
        // The answer is a stream of JSON progress lines; an error ends it with
        // {"errorDetail": {"message": ...}}, and with "error" beside it, which
        // API 1.48 deprecated and later engines may leave out.
        size_t pos = 0;
        while (pos < r.body.size()) {
          size_t nl = r.body.find('\n', pos);
          std::string line = r.body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
          pos = nl == std::string::npos ? r.body.size() : nl + 1;
          boost::system::error_code ec;
          json::value v = json::parse(line, ec);
          if (ec || !v.is_object()) continue;
          std::string err;
          if (auto* d = v.as_object().if_contains("errorDetail"); d && d->is_object())
            err = string_at(d->as_object(), "message");
          if (err.empty()) err = string_at(v.as_object(), "error");
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
  const std::string supervisor_path_;  // the agent program on this host; "" when unknown
  AgentBinary agent_binary_;           // the copy of it that containers bind
  const std::string seccomp_profile_;  // seccomp/container-profile.json, compact
  std::mutex negotiate_mu_;
  uint64_t info_generation_ = 0;  // the negotiation /info was read for; guarded by negotiate_mu_
  bool engine_seccomp_ = false;   // the engine applies seccomp profiles; guarded by negotiate_mu_
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ExecTarget>> sandboxes_;  // guarded by mu_
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<WarmContainer> pool_;       // ready, unclaimed; guarded by pool_mu_
  std::set<std::string> pool_in_flight_;  // being made ("") or claimed; guarded by pool_mu_
  bool stopping_ = false;                 // guarded by pool_mu_
  std::thread filler_;                    // runs fill_pool() when warm_pool > 0
};

}  // namespace
}  // namespace isb::docker

ISB_PLUGIN(isb::docker::DockerBackend)
