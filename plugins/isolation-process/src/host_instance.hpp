// host_instance.hpp: the identity of one process-backend instance on this host,
// so that several servers (or test processes) can run jails side by side.
//
//   HostInstance self;                          // registers, holds its lock
//   std::string cg = parent + "/" + self.name(); // its cgroups live under it
//   int slot = self.claim_uid_slot(200000, used); // host-wide unique uids
//   for (auto& dead : HostInstance::dead_instances(self.root())) ...  // crashed servers
//
// Each instance owns <registry>/<pid>-<random>/ and keeps the `lock` file
// inside flocked while it lives; the kernel drops the
// lock when the process dies, however it dies. So "is instance N alive" is
// "is N's lock held", and leftovers (cgroups named after N, staging binds in
// N's directory) of an instance whose lock is free can be removed by anyone.
// Sandbox uids are claimed host-wide with open-file-description byte-range
// locks on one shared file, byte offset = host uid: two instances never hand
// out the same uid, whatever their uid bases, and a crashed instance's uids
// come free with its death.
//
// The registry (default_root()) is /run/intelligent-sandbox/instances for a
// root server, shared by every root server on the host. A server of another
// user cannot write there, and has nothing host-wide to share (its sandboxes
// all run as its own uid, so it claims no uids): it registers in a directory
// of its own user, $XDG_RUNTIME_DIR/intelligent-sandbox/instances (a tmpfs,
// emptied at logout, like /run) or else ~/.local/state/intelligent-sandbox/
// instances, so that its servers still find each other's leftovers.
//
// Thread-safety: claim/release are serialized by the owner (the backend's
// mutex); the static functions may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox-agent/fd.hpp"

namespace isb::process {

class HostInstance {
 public:
  //! Registers under root (created if missing); throws sdk::Error(ISB_UNAVAILABLE)
  //! naming the path that could not be made or locked.
  explicit HostInstance(const std::string& root = default_root());
  //! Removes the directory (its staging binds must be gone by then).
  ~HostInstance();
  HostInstance(const HostInstance&) = delete;
  HostInstance& operator=(const HostInstance&) = delete;

  //! "<pid>-<8 hex digits>": also the name of its cgroups.
  const std::string& name() const { return name_; }
  //! Its directory; under kDefaultRoot world-traversable (the jails of a
  //! root server mount their workspace from it), elsewhere private.
  const std::string& dir() const { return dir_; }
  //! The registry it is in.
  const std::string& root() const { return root_; }

  //! Locks the two host uids [uid, uid + 2) against every other instance on
  //! the host; false if another live instance holds either.
  bool claim_uids(int64_t uid);
  void release_uids(int64_t uid);

  //! True if name looks like an instance name (so that a cgroup or directory
  //! with another name is never taken for one).
  static bool is_instance_name(const std::string& name);
  //! True while the instance called name holds its lock; false when its
  //! directory or lock is gone or the lock is free (it died).
  static bool alive(const std::string& name, const std::string& root);
  //! Directories of dead instances under root, for the caller to clean and
  //! then hand to forget().
  static std::vector<std::string> dead_instances(const std::string& root);
  //! Deletes a dead instance's directory (lock file and empty subdirectories).
  static void forget(const std::string& dir);

  //! The registry of root servers.
  static constexpr const char* kDefaultRoot = "/run/intelligent-sandbox/instances";
  //! The registry of this process's user: kDefaultRoot for root, else the
  //! per-user directory above; throws sdk::Error(ISB_UNAVAILABLE) when a
  //! non-root process has neither XDG_RUNTIME_DIR nor a home directory.
  static std::string default_root();

 private:
  std::string root_;
  std::string name_;
  std::string dir_;
  agent::Fd lock_;  // flocked for the instance's lifetime
  agent::Fd uids_;  // its own open file description of the uid lock file
};

}  // namespace isb::process
