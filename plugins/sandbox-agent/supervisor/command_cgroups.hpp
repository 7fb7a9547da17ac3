// command_cgroups.hpp: one cgroup per command, so that a command's
// timeout or cancellation reaches everything it started, including processes
// that left its process group or session (setsid, double fork), while what an
// earlier command left running in the background is untouched.
//
//   CommandCgroups cg(fd_of_the_workspace_freezer_cgroup);  // -1: none
//   std::string name; int procs = cg.create(&name);  // before fork
//   child: CommandCgroups::join(procs)                // before exec
//   cg.signal(name, SIGTERM); cg.kill(name);          // timeout / cancel
//   cg.finished(name);                                // main process reaped
//
// The backend creates the workspace's cgroup (v1: its freezer cgroup), hands
// its directory to the supervisor's uid and passes an fd of it in kInit; the
// supervisor creates "c<n>" below it per command. On v1 a command's cgroup is
// frozen, killed and thawed until empty (freezing is hierarchical, so
// destroying the workspace still freezes and kills everything at once). On
// v2 it is killed with cgroup.kill, and it is an OOM group
// (memory.oom.group): an OOM kill takes the whole command, never the
// supervisor, which sits in a leaf of its own.
//
// Thread-safety: the supervisor is single-threaded; so is this.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace isb::agent {

class CommandCgroups {
 public:
  //! Takes ownership of dir_fd (-1: no per-command cgroups; every call is then
  //! a no-op and callers fall back to the process group).
  explicit CommandCgroups(int dir_fd);
  bool enabled() const { return dir_ >= 0; }

  //! Makes the next command's cgroup; returns an fd of its tasks file
  //! (close-on-exec) and sets *name, or -1 with errno set.
  int create(std::string* name);
  //! In the forked child: moves the calling process into the cgroup.
  static bool join(int procs_fd);
  //! Sends sig to every process in the cgroup.
  void signal(const std::string& name, int sig);
  //! Kills everything in the cgroup until it is empty (bounded to about a second).
  void kill(const std::string& name);
  //! The command's main process is gone: removes the cgroup now if it is
  //! empty, or later (retry()) once its background processes are gone.
  void finished(const std::string& name);
  //! Removes the cgroups of finished commands that have emptied since.
  void retry();

 private:
  std::vector<pid_t> members(const std::string& name) const;
  bool write_state(const std::string& name, const char* state) const;

  int dir_;
  bool v2_ = false;  // the unified hierarchy: cgroup.procs, cgroup.kill, memory.oom.group
  unsigned long next_ = 0;
  std::vector<std::string> lingering_;  // finished commands' cgroups still holding processes
};

}  // namespace isb::agent
