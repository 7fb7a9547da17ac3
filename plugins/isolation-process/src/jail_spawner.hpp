// jail_spawner.hpp: starts one isb-supervisor per workspace in new namespaces.
//
//   JailSpawner spawner;                      // owns one long-lived thread
//   Jail jail = spawner.spawn(launch);        // supervisor ready, jail built
//   ... send kRun over jail.control ...
//   spawner.kill(jail);                       // SIGKILL pid 1, reap it
//
// Why a thread: the supervisor sets PR_SET_PDEATHSIG, which fires when the
// *thread* that created it exits. Spawning from a thread that lives as long as
// the backend makes "server dies -> jails die" hold without killing jails when
// a request thread ends. That thread also drops its own supplementary groups
// (a per-thread credential), so supervisors never carry the server's groups.
//
// Thread-safety: spawn() and kill() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sandbox-agent/fd.hpp"

namespace isb::process {

//! Who the jail's users are on the host.
enum class JailIdentity {
  //! Root server: a user namespace in which jail root is host_uid and the
  //! command user (uid 1000) host_uid + 1.
  kUidRange,
  //! Rootless server: a user namespace in which uid and gid 1000 are the
  //! server's own and nothing else is mapped, the only mapping the kernel
  //! lets an unprivileged process write without a setuid helper (newuidmap).
  //! With no root inside, the supervisor builds the jail as uid 1000 holding
  //! the namespace's capabilities across exec as ambient capabilities, and
  //! drops them all before it serves (jail_setup.cpp).
  kServerUser,
  //! Root fallback without a user namespace: built as real root, then drops
  //! to host_uid + 1.
  kNoUserNamespace,
};

struct JailLaunch {
  std::string supervisor_path;
  std::string workspace_path;  // host path
  JailIdentity identity = JailIdentity::kUidRange;
  uint32_t host_uid = 0;    // kUidRange, kNoUserNamespace: jail root maps here; commands run as host_uid + 1
  std::string seccomp_bpf;  // empty: no filter
  uint64_t tmp_bytes = 0;
  uint64_t shm_bytes = 0;
  //! The workspace's freezer cgroup directory, delegated to the supervisor's
  //! uid (per-command cgroups); -1: none. Borrowed: the caller closes it.
  int command_cgroup_fd = -1;
  //! Open "tasks" files of the workspace cgroups; the supervisor writes "0"
  //! to each before exec, joining them itself. Borrowed: the caller closes them.
  std::vector<int> cgroup_join_fds;
  //! cgroup v2: cgroup.procs of the supervisor's leaf, joined after the
  //! cgroup namespace is made so that the namespace's root is the workspace
  //! cgroup above it (where the commands' cgroups are too); -1: none. Borrowed.
  int cgroup_leaf_fd = -1;
};

//! A running supervisor. OWNERSHIP: the control socket belongs to the Jail.
struct Jail {
  pid_t pid = -1;  // host pid of the supervisor (pid 1 inside)
  agent::Fd control;      // SOCK_SEQPACKET to the supervisor
};

class JailSpawner {
 public:
  JailSpawner();
  ~JailSpawner();
  JailSpawner(const JailSpawner&) = delete;
  JailSpawner& operator=(const JailSpawner&) = delete;

  //! Clones the supervisor, maps its ids, has it join its cgroups, sends kInit and
  //! waits for kReady. Throws sdk::Error(ISB_UNAVAILABLE, <what failed>).
  Jail spawn(const JailLaunch& launch);

  //! SIGKILLs the supervisor (the kernel then kills its whole pid namespace)
  //! and reaps it.
  static void kill(Jail& jail);

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::thread thread_;
};

}  // namespace isb::process
