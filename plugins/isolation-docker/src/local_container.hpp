// local_container.hpp: what the server can do itself with a container whose
// engine runs on the same host (a unix:// engine): read the container's cgroup
// for per-command usage, and signal an exec's processes by host PID, which the
// Engine API cannot do (it has no "kill exec").
//
// Every function checks that the PIDs and cgroup it touches belong to the
// given container id first, so a recycled PID is never signalled.
// THREADING: free functions without shared state; safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace isb::docker {

//! The container's cgroup directories on this host.
struct ContainerCgroup {
  bool v2 = false;
  std::string memory_dir;   // v1 memory controller dir, or the v2 dir
  std::string cpuacct_dir;  // v1 cpuacct controller dir, or the v2 dir
};

//! Finds the cgroup of the container whose init has host PID init_pid.
//! nullopt when the engine is not local or the hierarchy is not readable.
std::optional<ContainerCgroup> find_container_cgroup(pid_t init_pid, const std::string& container_id);

struct CgroupSample {
  uint64_t cpu_ns = 0;      // cpuacct.usage (v1) or cpu.stat usage_usec * 1000 (v2)
  uint64_t peak_bytes = 0;  // memory.max_usage_in_bytes (v1) or memory.peak (v2)
  uint64_t oom_kills = 0;   // "oom_kill" of memory.oom_control (v1) or memory.events (v2)
};

//! Reads the counters; missing files read as 0.
CgroupSample sample_cgroup(const ContainerCgroup& cg);

//! Resets the peak memory counter so the next sample measures one command.
//! Returns false where the kernel has no reset (v2 before Linux 6.12).
bool reset_cgroup_peak(const ContainerCgroup& cg);

//! SIGKILLs every process of the container in the process group or session led
//! by host PID leader (an exec's main process is a session leader). Returns how
//! many were signalled (0 when none is visible from here), -1 when /proc
//! cannot be read.
int kill_exec_processes(pid_t leader, const std::string& container_id);

//! SIGKILLs every process of the container whose process group or session,
//! as numbered inside the container's PID namespace, is ns_leader (what the
//! in-container agent reports as a command's pid; NSpgid/NSsid in
//! /proc/<pid>/status). Returns how many were signalled, -1 when /proc cannot
//! be read.
int kill_agent_command_processes(pid_t ns_leader, const std::string& container_id);

}  // namespace isb::docker
