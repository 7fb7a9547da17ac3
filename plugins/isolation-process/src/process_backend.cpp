// process_backend.cpp: the "process" isolation plugin. Each sandbox is a jail
// (jail_spawner.cpp + plugins/sandbox-agent/supervisor/) with its own cgroups (workspace_cgroups.hpp:
// v1 or v2) and the seccomp filter compiled once (seccomp_filter.cpp); commands go through the
// jail's supervisor (sandbox-agent/jail_client.hpp). A root server gives each sandbox host
// uids of its own; a server of another user builds the same jail in a user
// namespace where the sandbox user is the server's own uid (rootless, see
// JailIdentity::kServerUser). Where the host cannot give a jail, or the
// config switches it off, commands run as plain children (runner.cpp) and
// probe() and every create result say exactly what is and is not enforced.
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "sandbox-agent/jail_setup.hpp"
#include "config.hpp"
#include "host_instance.hpp"
#include "idmapped_mount.hpp"
#include "isolation-common/process_tree.hpp"
#include "sandbox-agent/jail_client.hpp"
#include "jail_spawner.hpp"
#include "runner.hpp"
#include "seccomp_filter.hpp"
#include "specs.hpp"
#include "user_namespaces.hpp"
#include "workspace_cgroups.hpp"

namespace isb::process {
namespace {

namespace json = boost::json;

constexpr const char* kDirectPath = "/usr/local/bin:/usr/bin:/bin";
constexpr const char* kJailPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

//! kJail: root server, user namespace, host uids per sandbox. kJailNoUserns:
//! root server, no user namespace (config). kJailRootless: server of another
//! user, user namespace mapping uid 1000 to the server's uid. kDirect: no jail.
enum class Mode { kJail, kJailNoUserns, kJailRootless, kDirect };

//! What this host gives, found once per instance (see ensure_probed).
struct HostState {
  Mode mode = Mode::kDirect;
  std::string direct_reason;  // why there is no jail, when mode == kDirect
  std::string direct_fix;     // what an operator runs to get the jail, when a host setting is why
  std::string seccomp_bpf;    // compiled filter; empty when not available or disabled
  std::string seccomp_detail;
  std::string seccomp_fix;
  bool use_cgroups = false;
  CgroupSupport cgroups;
  std::string cgroups_detail;
  std::string cgroups_fix;   // what gives cgroup limits here, when an operator can
  bool idmap = false;        // workspaces reach the sandbox user through an idmapped mount
  std::string idmap_detail;  // why not, when idmap is false
  //! RLIMIT_NPROC counts the sandbox's processes only: always for a root
  //! server (each sandbox has its own uid); rootless only where the kernel
  //! counts it per user namespace (5.14+), since every sandbox, and the
  //! server, share one host uid.
  bool nproc_per_sandbox = false;
};

//! One sandbox. THREADING: mu guards destroyed, groups and unreaped; send_mu
//! guards jail.control (sends, and the close on destroy) and lost.
struct Sandbox {
  SandboxSpec spec;
  int slot = -1;
  uint32_t host_uid = 0;     // jail root (root server); commands run as host_uid + 1
  uint32_t command_uid = 0;  // host uid of the commands: host_uid + 1, or the server's own (rootless)
  std::unique_ptr<WorkspaceCgroups> cgroups;
  Jail jail;
  std::mutex send_mu;
  std::mutex mu;
  bool destroyed = false;
  std::set<pid_t> groups;        // direct mode: running or left-behind process groups
  std::set<pid_t> unreaped;      // direct mode: main processes SIGKILL did not end in time (runner.hpp)
  std::string lost;              // why the supervisor was given up (its jail killed); "" while it serves
  std::string staging;           // world-traversable bind of the workspace the jail mounts from
  bool idmapped = false;         // the sandbox user owns the workspace through id mapping (else chown)
  bool overlay_mounted = false;  // this backend mounted spec.overlay at workspace_path
  std::string ownership_note;    // why the idmapped mount was not used, when it was tried
};

//! Unmounts the overlay this backend mounted for sb, if any.
void unmount_overlay(Sandbox& sb) {
  if (!sb.overlay_mounted) return;
  ::umount2(sb.spec.workspace_path.c_str(), MNT_DETACH);
  sb.overlay_mounted = false;
}

//! True when path is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
bool is_mount_root(const std::string& path) {
  struct statx stx {};
  return ::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
         (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// The jail builds its mounts as an unprivileged uid, which cannot walk through
// private (0700) parents of the workspace path. So the server, still root in
// the host's mount namespace, first binds the workspace at a path whose
// parents anyone may traverse (in its instance directory, so that a crashed
// instance's binds are found by whoever reconciles next), and the jail mounts
// from there.
std::string staging_dir(const HostInstance& instance, int slot) {
  std::string ws = instance.dir() + "/ws";
  ::mkdir(ws.c_str(), 0755);
  std::string dir = ws + "/" + std::to_string(slot);
  ::umount2(dir.c_str(), MNT_DETACH);  // a leftover of an earlier sandbox in this slot
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

void bind_plain(const std::string& workspace, const std::string& dir) {
  if (::mount(workspace.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    int err = errno;
    ::rmdir(dir.c_str());
    throw sdk::Error(ISB_ERROR,
                     "cannot bind the workspace " + workspace + " at " + dir + ": " + strerror(err));
  }
}

void remove_staging_bind(const std::string& dir) {
  if (dir.empty()) return;
  ::umount2(dir.c_str(), MNT_DETACH);
  ::rmdir(dir.c_str());
}

//! Unmounts the staging binds of a dead instance's directory.
void remove_staging_binds_in(const std::string& instance_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(instance_dir + "/ws", ec)) {
    remove_staging_bind(e.path().string());
  }
}

//! Staging binds of servers before instance directories existed
//! (/run/intelligent-sandbox/jail-ws/<pid>-<slot>), once their server is gone.
void remove_legacy_staging_binds() {
  constexpr const char* kLegacyRoot = "/run/intelligent-sandbox/jail-ws";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(kLegacyRoot, ec)) {
    std::string name = e.path().filename().string();
    pid_t owner = static_cast<pid_t>(std::atoi(name.c_str()));
    if (owner == ::getpid() || (owner > 0 && ::kill(owner, 0) == 0)) continue;
    remove_staging_bind(e.path().string());
  }
}

//! The directory holding this plugin's .so (the supervisor sits next to it).
std::string plugin_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&plugin_dir), &info) == 0 || !info.dli_fname) return "";
  return std::filesystem::path(info.dli_fname).parent_path().string();
}

int chown_entry(const char* path, const struct stat*, int, struct FTW*);
int strip_entry(const char* path, const struct stat* st, int type, struct FTW*);
thread_local uid_t chown_target = 0;

int chown_entry(const char* path, const struct stat*, int, struct FTW*) {
  // lchown: a symlink in the workspace is re-owned itself, never its target.
  return ::lchown(path, chown_target, chown_target) == 0 ? 0 : -1;
}

int strip_entry(const char* path, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F && (st->st_mode & (S_ISUID | S_ISGID)))
    ::chmod(path, st->st_mode & 07777 & ~(S_ISUID | S_ISGID));
  return 0;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

//! One entry of probe's "protections". fix: what an operator can run on this
//! host so that the protection is enforced (doctor prints it); only where
//! such a step exists.
json::object protection(const char* name, bool enforced, const std::string& detail,
                        const std::string& fix = "") {
  json::object p{{"name", name}, {"enforced", enforced}, {"detail", detail}};
  if (!enforced && !fix.empty()) p["fix"] = fix;
  return p;
}

//! True when this kernel counts RLIMIT_NPROC per user namespace (Linux 5.14,
//! "ucounts: count rlimits in each user namespace").
bool kernel_counts_nproc_per_user_namespace() {
  struct utsname u {};
  if (::uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 14);
}

//! The fix for a protection switched off in this backend's own settings.
std::string enable_in_config_fix(const char* what) {
  return std::string("remove \"") + what + "\" from plugins.settings.process.disable";
}

//! The server's executable, for fixes that name it.
std::string server_binary() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "" : p.string();
}

//! The server's supplementary groups, as "gids 27, 100" or "" when none: a
//! rootless jail keeps them (setgroups is denied in its user namespace, so
//! they cannot be dropped), and they still grant access to host files.
std::string supplementary_groups() {
  gid_t groups[256];
  int n = ::getgroups(256, groups);
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (groups[i] == ::getegid()) continue;
    out += (out.empty() ? "gids " : ", ") + std::to_string(groups[i]);
  }
  return out;
}

class ProcessBackend : public sdk::IsolationBackend {
 public:
  static sdk::PluginInfo info() {
    return {
        "process",
        "Process isolation",
        "0.2.0",
        "Runs each workspace in a Linux jail: user, mount, pid, net, ipc, uts and cgroup namespaces, a "
        "tmpfs root with read-only system directories, seccomp, dropped capabilities, cgroup v1 or v2 limits "
        "and timeouts. probe() reports what this host enforces.",
        kConfigSchema,
        ISB_CAP_THREAD_SAFE};
  }

  ProcessBackend(sdk::Host host, const std::string& config_json)
      : host_(host), config_(parse_config(config_json)), is_root_(::geteuid() == 0) {
    supervisor_path_ = plugin_dir() + "/isb-supervisor";
    // Jails need an instance identity: cgroup names and host uids of a root
    // server, the leftovers of crashed servers for both kinds (host_instance.hpp).
    if (config_.disable.count("namespaces") == 0) instance_ = std::make_unique<HostInstance>();
  }

  ~ProcessBackend() override {
    std::map<std::string, std::shared_ptr<Sandbox>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(sandboxes_);
    }
    for (auto& [id, sb] : all) teardown(*sb);
    if (instance_) {
      if (state_.use_cgroups) remove_cgroup_parent(state_.cgroups.version, cgroup_parent());
      instance_.reset();
    }
  }

  std::string probe() override {
    const HostState& h = ensure_probed();
    const bool jail = h.mode != Mode::kDirect;
    const bool rootless = h.mode == Mode::kJailRootless;
    const std::string no_jail = "not enforced: " + h.direct_reason;
    // Everything the jail gives is missing for one reason; its fix, if any, turns it all on.
    auto jail_protection = [&](const char* name, const std::string& detail) {
      return protection(name, jail, jail ? detail : no_jail, h.direct_fix);
    };
    const std::string ns_detail = "own namespace per workspace; the supervisor is its pid 1";
    const std::string uid = std::to_string(::geteuid()), gid = std::to_string(::getegid());
    json::array p;
    if (h.mode == Mode::kJail) {
      p.push_back(
          protection("user_namespace", true,
                     "jail root maps to an unprivileged host uid (from sandbox_uid_base), commands run as "
                     "uid 1000 mapped to the next one, setgroups denied"));
    } else if (rootless) {
      p.push_back(
          protection("user_namespace", true,
                     "own user namespace in which only uid and gid 1000 exist, mapped to the server's "
                     "own uid " +
                         uid + " and gid " + gid +
                         " (an unprivileged process can map no other id without a setuid helper); no "
                         "root inside, setgroups denied"));
    } else if (h.mode == Mode::kJailNoUserns) {
      p.push_back(
          protection("user_namespace", false,
                     "disabled by config: root fallback, the jail is built as root and then drops to a "
                     "per-workspace host uid",
                     enable_in_config_fix("user_namespace")));
    } else {
      p.push_back(jail_protection("user_namespace", ""));
    }
    if (rootless) {
      std::string groups = supplementary_groups();
      p.push_back(protection(
          "host_uid_separation", false,
          "every sandbox runs as the server's own host uid " + uid +
              (groups.empty() ? std::string() : " with its supplementary groups (" + groups + ")") +
              ": namespaces, seccomp and the jail's filesystem keep sandboxes from the server's files and "
              "from each other, but a process that got out of them would act as the server's user",
          "run the server as root: each sandbox then runs as a host uid of its own"));
    } else {
      p.push_back(jail_protection("host_uid_separation",
                                  "each sandbox runs as host uids of its own (from sandbox_uid_base), never "
                                  "root and never the server's"));
    }
    for (const char* ns : {"mount_namespace", "pid_namespace", "network_namespace", "ipc_namespace",
                           "uts_namespace", "cgroup_namespace"}) {
      p.push_back(jail_protection(ns, std::string(ns) == "network_namespace"
                                          ? "own network namespace with only loopback"
                                          : ns_detail));
    }
    p.push_back(
        jail_protection("filesystem_isolation",
                        "tmpfs root (read-only), read-only /usr and curated /etc, workspace at /workspace "
                        "nosuid,nodev, fresh /proc with sensitive entries covered, minimal /dev, "
                        "size-capped /tmp and /dev/shm, no /sys, pivot_root with the old root detached"));
    bool seccomp = jail && !h.seccomp_bpf.empty();
    p.push_back(protection("seccomp", seccomp,
                           seccomp ? seccomp_filter_summary()
                           : !jail ? no_jail
                                   : h.seccomp_detail,
                           jail ? "" : h.direct_fix));
    p.push_back(jail_protection("no_new_privs", "PR_SET_NO_NEW_PRIVS on pid 1, inherited by commands"));
    p.push_back(
        jail_protection("capabilities_dropped", "bounding, ambient, effective and permitted sets empty"));
    bool cg = jail && h.use_cgroups;
    std::string no_cg = jail ? h.cgroups_detail : no_jail;
    std::string cg_fix = jail ? h.cgroups_fix : h.direct_fix;
    const bool v2 = h.cgroups.version == CgroupVersion::kV2;
    // A controller the host (or the delegation) lacks is named in the detail.
    auto cgroup_protection = [&](const char* name, bool on, const std::string& how) {
      return protection(name, cg && on,
                        cg && on ? how + "; " + h.cgroups.detail
                        : cg     ? h.cgroups.detail
                                 : no_cg,
                        cg_fix);
    };
    p.push_back(cgroup_protection("cgroup_memory", h.cgroups.memory,
                                  v2 ? "memory.max = memory_mb and memory.swap.max = 0, each command an OOM "
                                       "group (memory.oom.group); OOM kills from memory.events"
                                     : "memory.limit_in_bytes and memsw = memory_mb"));
    p.push_back(
        cgroup_protection("cgroup_pids", h.cgroups.pids, "pids.max = max_processes + 1 (the supervisor)"));
    p.push_back(cgroup_protection(
        "cgroup_cpu", h.cgroups.cpu,
        v2 ? "cpu.max = cpu_cores x 100000 per 100000 us" : "cpu.cfs_quota_us = cpu_cores x period"));
    std::string rlimits =
        !jail ? "RLIMIT_CORE 0, NOFILE, AS = memory_mb, FSIZE = disk_mb; NPROC only when not root"
        : rootless
            ? std::string("RLIMIT_CORE 0, NOFILE = max_open_files, ") +
                  (h.nproc_per_sandbox
                       ? "NPROC = max_processes (counted in the sandbox's own user namespace), "
                       : "no NPROC (before Linux 5.14 it would count every process of the "
                         "server's uid), ") +
                  (cg && h.cgroups.memory ? std::string("")
                                          : std::string("AS = memory_mb per process (no memory cgroup), ")) +
                  "FSIZE = disk_mb per file (not a disk quota)"
            : "RLIMIT_CORE 0, NOFILE = max_open_files, NPROC = max_processes (per-sandbox uid), "
              "FSIZE = disk_mb per file (not a disk quota)";
    p.push_back(protection("rlimits", true, rlimits));
    bool tree_kill = jail && h.use_cgroups && h.cgroups.tree_kill;
    p.push_back(protection("command_tree_kill", tree_kill,
                           tree_kill
                               ? std::string("each command runs in its own ") +
                                     (v2 ? "cgroup, killed with cgroup.kill" : "freezer cgroup") +
                                     ": timeout and cancel kill "
                                     "everything it started, also what left its session (setsid); what a "
                                     "command that ended normally left in the background keeps running"
                           : !jail ? no_jail
                                   : "no per-command cgroup (" + h.cgroups_detail +
                                         "): timeout and cancel signal the command's process group only, "
                                         "setsid escapes it until destroy",
                           cg_fix));
    p.push_back(
        protection("process_group_kill", true,
                   !jail ? "each command runs in its own process group (setsid escapes it)"
                         : std::string("each command is a session leader; timeout and cancel signal its "
                                       "group; destroy kills the whole pid namespace") +
                               (h.use_cgroups ? " and empties the cgroups" : "")));
    p.push_back(protection("wall_clock_timeout", true,
                           "timeout_ms per command: SIGTERM to the group, SIGKILL after kill_grace_ms (" +
                               std::to_string(config_.kill_grace_ms) +
                               " ms); no call waits longer than reply_margin_ms (" +
                               std::to_string(config_.reply_margin_ms) +
                               " ms) past that: a supervisor that misses it is lost, its jail killed"));
    json::object doc{{"backend", "process"},
                     {"available", true},
                     {"isolation", jail ? "jail" : "none"},
                     {"running_as_root", is_root_},
                     {"workspace_mount", jail ? agent::jail::kWorkspaceMount : "(the host path)"},
                     {"protections", std::move(p)}};
    if (instance_) {
      doc["instance"] = instance_->name();
      doc["instance_registry"] = instance_->root();
    }
    if (rootless) {
      doc["workspace_ownership"] = json::object{
          {"method", "server_user"},
          {"detail",
           "the sandbox user (uid 1000) is the server's own uid " + uid +
               ", so the workspace, which the server's user owns, is the sandbox user's as it is and "
               "new files belong to the server's user on disk; nothing is chowned or idmapped"}};
    } else if (jail) {
      doc["workspace_ownership"] =
          h.idmap
              ? json::object{{"method", "idmapped_mount"},
                             {"detail",
                              "the workspace is mounted idmapped: files of the workspace root's "
                              "on-disk owner appear as the sandbox user, new files keep that "
                              "owner on disk; nothing is chowned. Overlay workspaces are mounted "
                              "on idmapped layers (each create result says which method it got)"}}
              : json::object{{"method", "chown"},
                             {"detail", "every file is lchowned to the sandbox uid at create (O(files)): " +
                                            h.idmap_detail}};
    }
    // Overlay workspaces: a root server mounts them itself (sandbox spec
    // "overlay"), so that it can put them on idmapped layers. A rootless one
    // could mount one only inside the jail's mount namespace, where the
    // server's file tools, which work on the host path, would not see it.
    doc["mounts_overlay"] = is_root_;
    if (!jail) {
      doc["warnings"] = json::array{"degraded: " + h.direct_reason};
      if (!h.direct_fix.empty()) doc["fix"] = h.direct_fix;
    }
    return json::serialize(doc);
  }

  std::string create_sandbox(const std::string& spec_json) override {
    const HostState& h = ensure_probed();
    SandboxSpec spec = parse_sandbox_spec(spec_json);
    auto sb = std::make_shared<Sandbox>();
    sb->spec = spec;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (sandboxes_.count(spec.workspace_id)) {
        throw sdk::Error(ISB_INVALID_ARGUMENT, "sandbox '" + spec.workspace_id + "' already exists");
      }
      if (h.mode != Mode::kDirect) sb->slot = claim_slot_locked();
      sandboxes_[spec.workspace_id] = sb;
    }
    try {
      if (spec.overlay) {
        if (!is_root_) {
          throw sdk::Error(ISB_NOT_SUPPORTED,
                           "this backend mounts overlay workspaces only when the server is root");
        }
        if (is_mount_root(spec.workspace_path)) {
          throw sdk::Error(ISB_INVALID_ARGUMENT,
                           "workspace_path " + spec.workspace_path +
                               " is a mount already; unmount it before passing overlay");
        }
      }
      if (h.mode != Mode::kDirect) {
        start_jail(h, *sb, sb->slot);
      } else if (spec.overlay) {
        mount_overlay_plain({spec.overlay->lower, spec.overlay->upper, spec.overlay->work},
                            spec.workspace_path);
        sb->overlay_mounted = true;
      }
    } catch (...) {
      unmount_overlay(*sb);
      std::lock_guard<std::mutex> lock(mu_);
      sandboxes_.erase(spec.workspace_id);
      release_slot_locked(sb->slot);
      throw;
    }
    json::object doc{
        {"sandbox_id", spec.workspace_id},
        {"workspace_path", spec.workspace_path},
        {"workspace_mount", h.mode == Mode::kDirect ? spec.workspace_path : agent::jail::kWorkspaceMount},
        {"resource_limits", spec.limits.to_json()}};
    if (sb->overlay_mounted) doc["overlay_mounted"] = true;
    json::array enforced, not_enforced;
    json::value probed = json::parse(probe());
    std::set<std::string> cg_enforced;
    if (sb->cgroups) {
      for (const auto& n : sb->cgroups->enforced()) cg_enforced.insert(n);
    }
    for (const auto& pv : probed.at("protections").as_array()) {
      const auto& o = pv.as_object();
      std::string name(o.at("name").as_string());
      bool on = o.at("enforced").as_bool();
      if (name.rfind("cgroup_", 0) == 0 && name != "cgroup_namespace") on = on && cg_enforced.count(name);
      if (on) {
        enforced.push_back(json::value(name));
      } else {
        json::object missing{{"name", name}, {"reason", o.at("detail")}};
        if (const auto* fix = o.if_contains("fix")) missing["fix"] = *fix;
        not_enforced.push_back(std::move(missing));
      }
    }
    json::array unenforced_limits;
    if (h.mode == Mode::kDirect) {
      if (spec.limits.cpu_cores) unenforced_limits.push_back("cpu_cores");
      if (spec.limits.max_processes && is_root_) unenforced_limits.push_back("max_processes");
    } else {
      // No cgroups, or a delegation that lacks a controller.
      bool cpu = sb->cgroups && has(sb->cgroups->enforced(), "cgroup_cpu");
      bool pids = sb->cgroups && has(sb->cgroups->enforced(), "cgroup_pids");
      if (spec.limits.cpu_cores && !cpu) unenforced_limits.push_back("cpu_cores");
      if (spec.limits.max_processes && !pids && !h.nproc_per_sandbox)
        unenforced_limits.push_back("max_processes");
    }
    doc["enforced"] = std::move(enforced);
    doc["not_enforced"] = std::move(not_enforced);
    doc["unenforced_limits"] = std::move(unenforced_limits);
    if (h.mode != Mode::kDirect) {
      doc["host_uid"] = sb->command_uid;
      doc["workspace_ownership"] = h.mode == Mode::kJailRootless ? "server_user"
                                   : !sb->idmapped               ? "chown"
                                   : sb->overlay_mounted         ? "idmapped_overlay_layers"
                                                                 : "idmapped_mount";
      if (!sb->ownership_note.empty()) doc["workspace_ownership_note"] = sb->ownership_note;
    }
    host_.debug("process backend: created sandbox '" + spec.workspace_id + "' at " + spec.workspace_path);
    return json::serialize(doc);
  }

  std::string exec(const std::string& sandbox_id, const std::string& spec_json,
                   sdk::OutputSink& sink) override {
    std::shared_ptr<Sandbox> sb = find(sandbox_id);
    ExecSpec spec = parse_exec_spec(spec_json);
    check_cwd(*sb, spec.cwd);
    if (sb->slot < 0) return exec_direct(*sb, spec, sink);

    agent::JailRunRequest req;
    req.argv = spec.argv;
    req.cwd = std::string(agent::jail::kWorkspaceMount) + (spec.cwd == "." ? "" : "/" + spec.cwd);
    std::map<std::string, std::string> env{{"PATH", kJailPath}, {"HOME", agent::jail::kWorkspaceMount},
                                           {"LANG", "C.UTF-8"}, {"TERM", "dumb"},
                                           {"USER", "sandbox"}, {"LOGNAME", "sandbox"}};
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
    const ResourceLimits& l = sb->spec.limits;
    req.rlimits.emplace_back(RLIMIT_CORE, 0);
    if (l.max_open_files) req.rlimits.emplace_back(RLIMIT_NOFILE, *l.max_open_files);
    // The uid is the sandbox's own (or, rootless, counted in the sandbox's own
    // user namespace), so NPROC counts this sandbox only (+1: pid 1).
    // With a pids cgroup it is only a backstop, set above the cgroup's limit so
    // that the cgroup is what stops a fork bomb and it gets reported.
    bool pids_cgroup = sb->cgroups && has(sb->cgroups->enforced(), "cgroup_pids");
    if (l.max_processes && state_.nproc_per_sandbox)
      req.rlimits.emplace_back(RLIMIT_NPROC, *l.max_processes * (pids_cgroup ? 2 : 1) + 1);
    if (l.disk_mb) req.rlimits.emplace_back(RLIMIT_FSIZE, static_cast<uint64_t>(*l.disk_mb) << 20);
    bool memory_cgroup = sb->cgroups && has(sb->cgroups->enforced(), "cgroup_memory");
    if (l.memory_mb && !memory_cgroup)
      req.rlimits.emplace_back(RLIMIT_AS, static_cast<uint64_t>(*l.memory_mb) << 20);
    req.timeout_ms = spec.timeout_ms;
    req.max_output_bytes = spec.max_output_bytes;
    req.kill_grace_ms = config_.kill_grace_ms;
    req.reply_margin_ms = config_.reply_margin_ms;
    req.stdin_data = spec.stdin_data;
    {
      std::lock_guard<std::mutex> lock(sb->send_mu);
      if (!sb->lost.empty()) throw failed_sandbox(sandbox_id, sb->lost);
    }

    CgroupCounters before;
    if (sb->cgroups) {
      before = sb->cgroups->counters();
      sb->cgroups->reset_peak();
    }
    RunResult r = agent::run_in_jail(sb->jail.control, sb->send_mu, req, sink);
    if (r.supervisor_lost) {
      std::lock_guard<std::mutex> lock(sb->send_mu);
      if (!sb->lost.empty()) throw failed_sandbox(sandbox_id, sb->lost);  // another call gave it up
      // A concurrent destroy closed the control socket and killed the jail:
      // the command ended with it, which the result says.
      if (sb->jail.control.get() >= 0) {
        // Otherwise the supervisor cannot be trusted to end what it started:
        // the whole jail goes now, and the sandbox serves nothing more.
        JailSpawner::kill(sb->jail);
        sb->lost = *r.error;
        host_.warn("process backend: the supervisor of sandbox '" + sandbox_id + "' was lost (" + sb->lost +
                   "); its jail was killed");
        throw failed_sandbox(sandbox_id, sb->lost);
      }
    }
    json::object doc = result_json(r);
    json::object& usage = doc["usage"].as_object();
    bool oom = false, pids_hit = false;
    if (sb->cgroups) {
      CgroupCounters after = sb->cgroups->counters();
      oom = after.oom_kills > before.oom_kills;
      pids_hit = after.pids_max_hits > before.pids_max_hits;
      auto peak = sb->cgroups->peak_memory_bytes();
      usage["peak_memory_bytes"] = peak ? json::value(*peak) : json::value(nullptr);
      // v2 cpu.stat: everything in the workspace during the command, background processes included.
      if (after.cpu_usec && before.cpu_usec)
        usage["workspace_cpu_ms"] = (*after.cpu_usec - *before.cpu_usec) / 1000;
    } else {
      usage["peak_memory_bytes"] = nullptr;
    }
    usage["oom_killed"] = oom;
    doc["killed_by"] = killed_by(r, oom, pids_hit);
    doc["pids_limit_hit"] = pids_hit;
    return json::serialize(doc);
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
    bool clean = teardown(*sb);
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_slot_locked(sb->slot);
    }
    if (!clean) {
      throw sdk::Error(ISB_ERROR, "sandbox '" + sandbox_id +
                                      "' was destroyed but its cgroups could not be emptied "
                                      "within 2 s; reconcile will retry");
    }
    host_.debug("process backend: destroyed sandbox '" + sandbox_id + "'");
  }

  std::string sandbox_status(const std::string& sandbox_id) override {
    std::shared_ptr<Sandbox> sb = find(sandbox_id);
    int64_t processes = 0;
    if (sb->jail.pid > 0) {
      // Every command and every orphan of the jail is a child of its pid 1.
      processes = isolation::count_children(sb->jail.pid);
      if (processes < 0)
        throw sdk::Error(ISB_UNAVAILABLE, "cannot list the processes of sandbox '" + sandbox_id + "'");
    } else {
      std::lock_guard<std::mutex> lock(sb->mu);
      for (pid_t pgid : sb->groups) processes += ::kill(-pgid, 0) == 0 ? 1 : 0;
    }
    return json::serialize(json::object{{"processes", processes}});
  }

  std::string reconcile(const std::string& known_ids_json) override {
    boost::system::error_code ec;
    json::value v = json::parse(known_ids_json, ec);
    if (ec || !v.is_array()) {
      throw sdk::Error(ISB_INVALID_ARGUMENT, "known sandbox ids must be a JSON array of strings");
    }
    std::set<std::string> keep;
    for (const auto& id : v.as_array()) {
      if (!id.is_string())
        throw sdk::Error(ISB_INVALID_ARGUMENT, "known sandbox ids must be a JSON array of strings");
      keep.insert(std::string(id.as_string()));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, sb] : sandboxes_) keep.insert(id);
    }
    // Supervisors of a crashed server died with it (parent-death signal and
    // the closed control socket); what can remain are their cgroups, any
    // process that was in them, and staging binds (a root server's), and the
    // instance directory (both kinds, each in its own registry). Ours not in
    // keep go, and everything of instances whose lock is free (they are
    // dead); never anything of a live instance.
    json::array removed;
    if (!instance_) return json::serialize(json::object{{"removed", std::move(removed)}});
    if (is_root_) remove_legacy_staging_binds();
    for (const auto& dir : HostInstance::dead_instances(instance_->root())) {
      remove_staging_binds_in(dir);
      HostInstance::forget(dir);
    }
    if (manages_cgroups()) {
      const CgroupVersion v = host_cgroup_version();
      for (const auto& id : list_workspace_cgroups(v, cgroup_parent())) {
        if (keep.count(id)) continue;
        remove_workspace_cgroups(v, cgroup_parent(), id);
        removed.push_back(json::value(id));
      }
      for (const auto& name : list_instance_cgroups(v, config_.cgroup_parent)) {
        if (name == instance_->name() || HostInstance::alive(name, instance_->root())) continue;
        std::string parent = config_.cgroup_parent + "/" + name;
        for (const auto& id : list_workspace_cgroups(v, parent)) {
          remove_workspace_cgroups(v, parent, id);
          removed.push_back(json::value(id));
        }
        remove_cgroup_parent(v, parent);
      }
      // Servers from before instance names kept ws-<id> right under the parent.
      for (const auto& id : list_workspace_cgroups(v, config_.cgroup_parent)) {
        remove_workspace_cgroups(v, config_.cgroup_parent, id);
        removed.push_back(json::value(id));
      }
    }
    return json::serialize(json::object{{"removed", std::move(removed)}});
  }

 private:
  const HostState& ensure_probed() {
    std::call_once(probe_once_, [&] { state_ = discover(); });
    return state_;
  }

  HostState discover() {
    HostState h;
    if (config_.disable.count("seccomp")) {
      h.seccomp_detail = "disabled by config";
      h.seccomp_fix = enable_in_config_fix("seccomp");
    } else {
      try {
        h.seccomp_bpf = compile_seccomp_filter();
      } catch (const std::exception& e) {
        h.seccomp_detail = e.what();
      }
    }
    h.nproc_per_sandbox = is_root_ || kernel_counts_nproc_per_user_namespace();
    if (config_.disable.count("cgroups")) {
      h.cgroups_detail = "disabled by config";
      h.cgroups_fix = enable_in_config_fix("cgroups");
    } else if (!instance_) {
      h.cgroups_detail = "no jail (namespaces disabled by config)";
      h.cgroups_fix = enable_in_config_fix("namespaces");
    } else if (!is_root_ && host_cgroup_version() != CgroupVersion::kV2) {
      explain_rootless_cgroups(h);
    } else {
      h.cgroups = probe_cgroups(cgroup_parent(), is_root_);
      h.use_cgroups = h.cgroups.memory || h.cgroups.pids || h.cgroups.cpu;
      h.cgroups_detail = h.cgroups.detail;
      h.cgroups_fix = h.cgroups.fix;
      if (!is_root_ && !h.use_cgroups) h.cgroups_detail += rootless_fallback();
    }
    if (config_.disable.count("namespaces")) {
      h.direct_reason = "namespaces disabled by config: commands run as plain child processes of the server";
      h.direct_fix = enable_in_config_fix("namespaces");
      return h;
    }
    if (::access(supervisor_path_.c_str(), X_OK) != 0) {
      h.direct_reason =
          "the supervisor " + supervisor_path_ + " is missing or not executable; reinstall the plugin";
      h.direct_fix =
          "rebuild the server (make build) or reinstall it, so that " + supervisor_path_ + " is there";
      return h;
    }
    // A rootless jail stands on an unprivileged user namespace: when a host
    // setting forbids those, say which one and how to allow them.
    std::optional<UsernsBlocker> blocker;
    if (!is_root_) {
      if (config_.disable.count("user_namespace")) {
        h.direct_reason =
            "user_namespace disabled by config and the server is not root: without a user namespace only "
            "root "
            "can build the jail; commands run as plain child processes";
        return h;
      }
      blocker = find_userns_blocker("/proc/sys", server_binary());
      if (!blocker || !blocker->certain) {
        if (int err = try_user_namespace()) blocker = explain_userns_errno(err, "/proc/sys");
      }
      if (blocker && blocker->certain) {
        h.direct_reason =
            "the server is not root and cannot create a user namespace for the jail: " + blocker->setting +
            " (" + blocker->detail + "); commands run as plain child processes";
        h.direct_fix = blocker->fix;
        host_.warn("process backend: " + h.direct_reason + "; to allow user namespaces: " + h.direct_fix);
        return h;
      }
    }
    h.mode = !is_root_                                 ? Mode::kJailRootless
             : config_.disable.count("user_namespace") ? Mode::kJailNoUserns
                                                       : Mode::kJail;
    // Build one real jail and run a command in it: every setup step fails
    // closed, so a ready jail proves this host enforces what probe claims.
    std::string error;
    char dir[] = "/tmp/isb-probe-XXXXXX";
    if (!::mkdtemp(dir)) {
      error = std::string("mkdtemp failed: ") + strerror(errno);
    } else {
      // Idmapped workspaces: tried on this directory, then proven by the trial
      // jail writing through it; chown of every file is the fallback. Neither
      // is needed, nor possible, rootless.
      h.idmap = is_root_ && config_.disable.count("idmapped_mount") == 0;
      Sandbox sb;
      sb.spec.workspace_path = dir;
      sb.spec.workspace_id = std::string("probe-") + std::to_string(::getpid());
      std::mutex mu;
      auto run = [&](std::vector<std::string> argv) {
        agent::JailRunRequest req;
        req.argv = std::move(argv);
        req.cwd = agent::jail::kWorkspaceMount;
        req.env = {std::string("PATH=") + kJailPath};
        req.timeout_ms = 10000;
        isb_output_sink none{sizeof(isb_output_sink), nullptr, nullptr, nullptr};
        sdk::OutputSink sink(&none);
        return agent::run_in_jail(sb.jail.control, mu, req, sink);
      };
      try {
        {
          std::lock_guard<std::mutex> lock(mu_);
          sb.slot = claim_slot_locked();
        }
        HostState trial = h;
        trial.use_cgroups = false;
        start_jail(trial, sb, sb.slot);
        RunResult r = run({"/bin/true"});
        if (r.exit_code != 0)
          error = "/bin/true failed in the jail: " + r.error.value_or("exit status not 0");
        if (error.empty() && h.mode == Mode::kJailRootless) {
          r = run({"/bin/sh", "-c", "echo x > probe && rm probe"});
          if (r.exit_code != 0) error = "the sandbox user could not write to its workspace";
        } else if (error.empty() && sb.idmapped) {
          r = run({"/bin/sh", "-c", "echo x > probe && rm probe"});
          if (r.exit_code != 0) {
            h.idmap = false;
            h.idmap_detail = "the sandbox user could not write through an idmapped mount here";
          }
        } else if (!sb.idmapped) {
          h.idmap_detail = h.idmap ? sb.ownership_note : "idmapped mounts disabled by config";
          h.idmap = false;
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
      JailSpawner::kill(sb.jail);
      remove_staging_bind(sb.staging);
      if (sb.slot >= 0) {
        std::lock_guard<std::mutex> lock(mu_);
        release_slot_locked(sb.slot);
      }
      ::rmdir(dir);
    }
    if (!error.empty()) {
      h.mode = Mode::kDirect;
      h.direct_reason =
          "this host cannot build the jail (" + error + "); commands run as plain child processes";
      // AppArmor lets the user namespace be made, then refuses what the
      // jail does in it: name it as the likely cause.
      if (blocker) {
        h.direct_reason += "; " + blocker->setting + " is the likely cause (" + blocker->detail + ")";
        h.direct_fix = blocker->fix;
      }
      host_.warn("process backend: " + h.direct_reason);
    }
    return h;
  }

  static std::string rootless_fallback() {
    return ": memory_mb falls back to RLIMIT_AS per process, max_processes to RLIMIT_NPROC, and cpu_cores is "
           "not enforced";
  }

  //! Why a rootless server on a cgroup v1 host has no cgroup limits, and what gives them.
  static void explain_rootless_cgroups(HostState& h) {
    h.cgroups_detail =
        "the server is not root, and on this host's cgroup v1 hierarchy only root can create "
        "cgroups (v1 cannot be delegated to a user safely)" +
        rootless_fallback();
    h.cgroups_fix =
        "run the server as root (it then limits each workspace with cgroups), or boot the host with cgroup "
        "v2 "
        "(systemd.unified_cgroup_hierarchy=1) and start the server in a delegated cgroup";
  }

  //! True when this backend makes and removes cgroups: root, or rootless on
  //! cgroup v2 (in its delegated subtree, if it has one).
  bool manages_cgroups() const {
    return config_.disable.count("cgroups") == 0 && (is_root_ || host_cgroup_version() == CgroupVersion::kV2);
  }

  //! Builds sb's jail: the workspace made the sandbox user's, cgroups, the
  //! supervisor. On failure nothing of it is left and the error is thrown.
  void start_jail(const HostState& h, Sandbox& sb, int slot) {
    if (h.mode == Mode::kJailRootless) {
      check_rootless_workspace(sb);
    } else {
      prepare_workspace(h, sb, slot);
    }
    const uint32_t user = sb.command_uid;  // commands and, after setup, the supervisor
    agent::Fd command_cgroups;
    try {
      if (h.use_cgroups) {
        sb.cgroups = make_workspace_cgroups(h.cgroups, cgroup_parent(), sb.spec.workspace_id, sb.spec.limits);
        command_cgroups = sb.cgroups->delegate_commands(user);
      }
    } catch (...) {
      sb.cgroups.reset();
      remove_staging_bind(sb.staging);
      sb.staging.clear();
      throw;
    }
    JailLaunch launch;
    launch.supervisor_path = supervisor_path_;
    // A rootless supervisor is the server's own uid, so it reaches the
    // workspace by its path; a root server's reaches it through the staging bind.
    launch.workspace_path = sb.staging.empty() ? sb.spec.workspace_path : sb.staging;
    launch.identity = h.mode == Mode::kJail           ? JailIdentity::kUidRange
                      : h.mode == Mode::kJailRootless ? JailIdentity::kServerUser
                                                      : JailIdentity::kNoUserNamespace;
    launch.host_uid = sb.host_uid;
    launch.seccomp_bpf = h.seccomp_bpf;
    launch.command_cgroup_fd = command_cgroups.get();
    uint64_t disk =
        sb.spec.limits.disk_mb ? static_cast<uint64_t>(*sb.spec.limits.disk_mb) << 20 : 256ull << 20;
    launch.tmp_bytes = disk;
    launch.shm_bytes = std::min<uint64_t>(disk, 64ull << 20);
    std::vector<agent::Fd> joins;
    agent::Fd leaf;
    try {
      if (sb.cgroups) {
        joins = sb.cgroups->open_join_files();
        leaf = sb.cgroups->open_leaf_join_file();
      }
      for (const auto& fd : joins) launch.cgroup_join_fds.push_back(fd.get());
      launch.cgroup_leaf_fd = leaf.get();
      sb.jail = spawner_.spawn(launch);
      if (sb.cgroups) sb.cgroups->supervisor_started();
    } catch (...) {
      JailSpawner::kill(sb.jail);
      if (sb.cgroups) sb.cgroups->destroy();
      sb.cgroups.reset();
      remove_staging_bind(sb.staging);
      sb.staging.clear();
      throw;
    }
  }

  //! Rootless: the sandbox user is the server's own uid, so a workspace of
  //! the server's user is the sandbox user's as it is: nothing to bind
  //! (the supervisor can walk to it), idmap (needs CAP_SYS_ADMIN in the
  //! host's user namespace) or chown (of the server's own files). One of
  //! another owner would be read-only, or unreadable, inside: refused.
  static void check_rootless_workspace(Sandbox& sb) {
    const std::string& ws = sb.spec.workspace_path;
    struct stat st {};
    if (::stat(ws.c_str(), &st) != 0) {
      throw sdk::Error(ISB_ERROR, "cannot stat the workspace " + ws + ": " + strerror(errno));
    }
    if (st.st_uid != ::geteuid()) {
      throw sdk::Error(ISB_INVALID_ARGUMENT,
                       "the workspace " + ws + " belongs to uid " + std::to_string(st.st_uid) +
                           ", not to the server's user (uid " + std::to_string(::geteuid()) +
                           "): a server that is not root runs its sandboxes as its own user, who could not "
                           "write there; give the directory to the server's user");
    }
    sb.command_uid = ::geteuid();
  }

  //! Root server: host uids from the slot, and the workspace made theirs
  //! (idmapped bind, overlay on idmapped layers, or chown) at the staging bind.
  void prepare_workspace(const HostState& h, Sandbox& sb, int slot) {
    sb.host_uid = uid_of_slot(slot);
    const uint32_t user = sb.host_uid + 1;
    sb.command_uid = user;
    const std::string& ws = sb.spec.workspace_path;
    sb.staging = staging_dir(*instance_, slot);
    if (sb.spec.overlay) {
      try {
        mount_overlay_for(h, sb, user);
      } catch (...) {
        remove_staging_bind(sb.staging);
        sb.staging.clear();
        throw;
      }
    } else if (h.idmap) {
      try {
        struct stat st {};
        if (::stat(ws.c_str(), &st) != 0) {
          throw sdk::Error(ISB_ERROR, "cannot stat the workspace " + ws + ": " + strerror(errno));
        }
        mount_idmapped_bind(ws, sb.staging, st.st_uid, st.st_gid, user);
        sb.idmapped = true;
      } catch (const sdk::Error& e) {
        sb.ownership_note = std::string(e.what()) + "; the workspace was chowned instead";
      }
    }
    if (!sb.idmapped) {
      chown_target = user;
      if (::nftw(ws.c_str(), chown_entry, 32, FTW_PHYS) != 0) {
        int e = errno;
        remove_staging_bind(sb.staging);
        sb.staging.clear();
        throw sdk::Error(ISB_ERROR, "cannot give the workspace " + ws + " to the sandbox uid " +
                                        std::to_string(user) + ": " + strerror(e));
      }
    }
    // Only the idmapped bind is the staging mount already; a chowned
    // workspace, or an overlay on idmapped layers, is bound there plainly.
    if (!sb.idmapped || sb.overlay_mounted) {
      try {
        bind_plain(ws, sb.staging);
      } catch (...) {
        sb.staging.clear();
        throw;
      }
    }
  }

  //! Mounts sb.spec.overlay at the workspace path: on idmapped layers, so
  //! the sandbox user owns the files without a chown (which on overlayfs
  //! would copy every file up), else plainly, leaving the chown to the caller.
  void mount_overlay_for(const HostState& h, Sandbox& sb, uint32_t user) {
    const OverlaySpec& ov = *sb.spec.overlay;
    const OverlayLayers layers{ov.lower, ov.upper, ov.work};
    if (h.idmap) {
      try {
        // The source root's on-disk owner becomes the sandbox user; the core
        // gave the upper root the same owner, so the merged root is theirs.
        struct stat st {};
        if (::stat(ov.lower.c_str(), &st) != 0) {
          throw sdk::Error(ISB_NOT_SUPPORTED,
                           "cannot stat the overlay's lower layer " + ov.lower + ": " + strerror(errno));
        }
        mount_overlay_idmapped(layers, sb.spec.workspace_path, st.st_uid, st.st_gid, user, sb.staging);
        sb.overlay_mounted = true;
        sb.idmapped = true;
        return;
      } catch (const sdk::Error& e) {
        sb.ownership_note =
            std::string(e.what()) + "; the overlay was mounted without id mapping and chowned";
      }
    } else {
      sb.ownership_note = "idmapped mounts are not used on this host (" + h.idmap_detail + ")";
    }
    mount_overlay_plain(layers, sb.spec.workspace_path);
    sb.overlay_mounted = true;
  }

  uint32_t uid_of_slot(int slot) const {
    return static_cast<uint32_t>(config_.sandbox_uid_base + 2 * static_cast<int64_t>(slot));
  }

  //! A free slot whose two uids no other instance on this host holds (a
  //! rootless server's sandboxes all run as its own uid: it claims none). Needs mu_.
  int claim_slot_locked() {
    for (int i = 0; i < kMaxSandboxes; ++i) {
      if (used_slots_.count(i) || (is_root_ && !instance_->claim_uids(uid_of_slot(i)))) continue;
      used_slots_.insert(i);
      return i;
    }
    throw sdk::Error(ISB_UNAVAILABLE,
                     "all " + std::to_string(kMaxSandboxes) + " sandbox uid slots from sandbox_uid_base " +
                         std::to_string(config_.sandbox_uid_base) +
                         " are taken on this host (by this and other servers); destroy workspaces or give "
                         "this server another sandbox_uid_base");
  }

  //! Needs mu_.
  void release_slot_locked(int slot) {
    if (slot < 0) return;
    used_slots_.erase(slot);
    if (is_root_) instance_->release_uids(uid_of_slot(slot));
  }

  //! Where this instance's workspace cgroups go, under each controller.
  std::string cgroup_parent() const { return config_.cgroup_parent + "/" + instance_->name(); }

  //! Kills everything of the sandbox; false if its cgroups did not empty.
  bool teardown(Sandbox& sb) {
    {
      std::lock_guard<std::mutex> lock(sb.mu);
      sb.destroyed = true;
      reap_unreaped_locked(sb);
      for (pid_t pgid : sb.groups) {
        if (process_group_alive(pgid)) ::kill(-pgid, SIGKILL);
      }
      sb.groups.clear();
    }
    if (sb.slot < 0) {
      unmount_overlay(sb);
      return true;
    }
    {
      std::lock_guard<std::mutex> lock(sb.send_mu);
      JailSpawner::kill(sb.jail);
    }
    bool clean = true;
    if (sb.cgroups) clean = sb.cgroups->destroy();
    remove_staging_bind(sb.staging);
    sb.staging.clear();
    // Nothing runs any more: a setuid file the sandbox left must not become a
    // way up for whoever touches the workspace later.
    ::nftw(sb.spec.workspace_path.c_str(), strip_entry, 32, FTW_PHYS);
    unmount_overlay(sb);
    return clean;
  }

  //! cwd must be a directory inside the workspace; symlinks are resolved as if
  //! the workspace were "/", so a link to a host path is never followed here.
  static void check_cwd(const Sandbox& sb, const std::string& cwd) {
    int root = ::open(sb.spec.workspace_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw sdk::Error(ISB_ERROR, "the workspace " + sb.spec.workspace_path + " is gone");
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int fd = static_cast<int>(::syscall(SYS_openat2, root, cwd.c_str(), &how, sizeof how));
    ::close(root);
    if (fd < 0)
      throw sdk::Error(ISB_INVALID_ARGUMENT, "cwd '" + cwd + "' is not a directory in the workspace");
    ::close(fd);
  }

  std::string exec_direct(Sandbox& sb, const ExecSpec& spec, sdk::OutputSink& sink) {
    RunRequest req;
    req.argv = spec.argv;
    req.cwd = sb.spec.workspace_path + (spec.cwd == "." ? "" : "/" + spec.cwd);
    std::map<std::string, std::string> env;
    const char* server_path = std::getenv("PATH");
    env["PATH"] = server_path && *server_path ? server_path : kDirectPath;
    env["HOME"] = sb.spec.workspace_path;
    env["LANG"] = "C.UTF-8";
    env["TERM"] = "dumb";
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
    req.search_path = env["PATH"];
    req.limits = sb.spec.limits;
    req.apply_nproc = !is_root_;
    req.timeout_ms = spec.timeout_ms;
    req.max_output_bytes = spec.max_output_bytes;
    req.kill_grace_ms = config_.kill_grace_ms;
    req.reply_margin_ms = config_.reply_margin_ms;
    req.stdin_data = spec.stdin_data;
    RunResult r = run_command(req, sink, [&](pid_t pgid) {
      std::lock_guard<std::mutex> lock(sb.mu);
      sb.groups.insert(pgid);
      if (sb.destroyed) ::kill(-pgid, SIGKILL);
    });
    {
      std::lock_guard<std::mutex> lock(sb.mu);
      if (r.unreaped) sb.unreaped.insert(r.pgid);
      reap_unreaped_locked(sb);
      if (sb.destroyed) {
        ::kill(-r.pgid, SIGKILL);
        if (!r.unreaped) sb.groups.erase(r.pgid);
      } else if (!r.group_still_alive && !r.unreaped) {
        sb.groups.erase(r.pgid);
      }
      for (auto it = sb.groups.begin(); it != sb.groups.end();) {
        it = (*it != r.pgid && !process_group_alive(*it)) ? sb.groups.erase(it) : std::next(it);
      }
    }
    json::object doc = result_json(r);
    doc["usage"].as_object()["peak_memory_bytes"] = nullptr;
    doc["usage"].as_object()["oom_killed"] = false;
    doc["killed_by"] = killed_by(r, false, false);
    return json::serialize(doc);
  }

  //! Direct mode: reaps the main processes that SIGKILL had not ended in time
  //! once they have; until then they stay in groups, killed again on destroy.
  //! Only pids in unreaped are waited for: they are still this process's
  //! children, so no other component's child is ever reaped here.
  static void reap_unreaped_locked(Sandbox& sb) {
    for (auto it = sb.unreaped.begin(); it != sb.unreaped.end();) {
      ::kill(-*it, SIGKILL);
      if (::waitpid(*it, nullptr, WNOHANG) == *it) {
        sb.groups.erase(*it);
        it = sb.unreaped.erase(it);
      } else {
        ++it;
      }
    }
  }

  static sdk::Error failed_sandbox(const std::string& id, const std::string& why) {
    return sdk::Error(ISB_UNAVAILABLE, "sandbox '" + id + "' has failed: its supervisor was lost (" + why +
                                           "); its jail was killed, so nothing runs there any more. "
                                           "Destroy and re-create the workspace");
  }

  static json::value killed_by(const RunResult& r, bool oom, bool pids_hit) {
    if (r.cancelled) return "cancelled";
    if (r.timed_out) return "timeout";
    if (r.signal && oom) return "memory";
    if (pids_hit && (r.signal || (r.exit_code && *r.exit_code != 0))) return "pids";
    if (r.signal) return "signal";
    return nullptr;
  }

  std::shared_ptr<Sandbox> find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sandboxes_.find(id);
    if (it == sandboxes_.end()) throw sdk::Error(ISB_NOT_FOUND, "no sandbox '" + id + "'");
    return it->second;
  }

  static json::object result_json(const RunResult& r) {
    json::object doc;
    doc["exit_code"] = r.exit_code ? json::value(*r.exit_code) : json::value(nullptr);
    doc["signal"] = r.signal ? json::value(*r.signal) : json::value(nullptr);
    doc["signal_name"] = r.signal ? json::value(signal_name(*r.signal)) : json::value(nullptr);
    doc["timed_out"] = r.timed_out;
    doc["cancelled"] = r.cancelled;
    doc["duration_ms"] = r.duration_ms;
    doc["stdout_bytes"] = r.stdout_bytes;
    doc["stderr_bytes"] = r.stderr_bytes;
    doc["output_truncated"] = r.output_truncated;
    doc["usage"] = json::object{{"max_rss_kb", r.max_rss_kb}, {"cpu_ms", r.cpu_ms}};
    if (r.error) doc["error"] = *r.error;
    return doc;
  }

  sdk::Host host_;
  Config config_;
  bool is_root_;
  std::string supervisor_path_;
  std::once_flag probe_once_;
  HostState state_;  // written once under probe_once_
  JailSpawner spawner_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_;  // guarded by mu_
  std::set<int> used_slots_;                                   // guarded by mu_
  std::unique_ptr<HostInstance> instance_;  // set unless namespaces are disabled; see host_instance.hpp
};

}  // namespace
}  // namespace isb::process

ISB_PLUGIN(isb::process::ProcessBackend)
