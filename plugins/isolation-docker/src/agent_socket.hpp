// agent_socket.hpp: the one way the server reaches a container's agent socket.
//
// The socket lives in the container, where root can replace it with a symlink
// (to another container's agent, or to any socket of the host) or with a
// listener of its own. So the server never hands the kernel a path to
// resolve: it opens /.isb/run beneath the container's own root
// (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), checks that it is the
// container's own tmpfs mounted there, opens agent.sock beneath it (no
// symlinks, no other mount), checks that it is a socket, connects through
// that very inode ("/proc/self/fd/<O_PATH fd>"), and accepts the connection
// only when the listener is the container's PID 1 (SO_PEERCRED), which is the
// agent: nothing else in the container can listen on a socket as PID 1.
//
//   agent::Fd pidfd = open_container_init(init_pid, container_id);  // throws
//   AgentConnectAttempt a = connect_agent_socket(init_pid, pidfd.get());
//   if (a.socket.get() >= 0) ...connected...; else if (a.retry) ...not listening yet...
//
// THREADING: free functions without shared state; safe from any thread.
#pragma once

#include <sys/types.h>

#include <string>

#include "sandbox-agent/fd.hpp"

namespace isb::docker {

//! A pidfd of the container's PID 1 (host PID init_pid), after checking that
//! this process belongs to container_id, so a recycled PID is never used.
//! Throws Error(ISB_UNAVAILABLE) saying why not.
agent::Fd open_container_init(pid_t init_pid, const std::string& container_id);

//! True while the process of pidfd has not exited.
bool container_init_alive(int pidfd);

//! The outcome of one connection attempt.
struct AgentConnectAttempt {
  agent::Fd socket;  // connected SOCK_SEQPACKET socket (fd >= 3) on success
  bool retry = false;  // the agent has not bound or listened yet: try again shortly
  std::string error;   // why not; with retry false the socket is refused for good
};

//! One attempt to connect to the agent of the container whose PID 1 is
//! init_pid (init_pidfd: from open_container_init), as described above.
AgentConnectAttempt connect_agent_socket(pid_t init_pid, int init_pidfd);

}  // namespace isb::docker
