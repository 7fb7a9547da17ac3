// jail_setup.hpp: turns the freshly cloned supervisor (pid 1 of new user, mount,
// pid, net, ipc and uts namespaces) into a jail: filesystem, network, identity,
// privileges. Runs once, single-threaded, before any command.
#pragma once

#include <cstdint>
#include <string>

namespace isb::agent::jail {

struct JailSpec {
  std::string workspace_host_path;  // bound read-write at /workspace
  uint32_t target_uid = 1000;       // identity of the supervisor and every command
  uint32_t target_gid = 1000;
  bool user_namespace = true;  // false: root fallback, groups dropped here
  uint64_t tmp_bytes = 0;      // size cap of /tmp
  uint64_t shm_bytes = 0;      // size cap of /dev/shm
  std::string seccomp_bpf;     // struct sock_filter array; empty: no filter
};

//! Path of the workspace inside the jail.
inline constexpr const char* kWorkspaceMount = "/workspace";

//! Builds the jail. Returns "" on success, or what failed and why; the caller
//! then reports the message and exits, so no command ever runs half-jailed.
std::string setup(const JailSpec& spec);

}  // namespace isb::agent::jail
