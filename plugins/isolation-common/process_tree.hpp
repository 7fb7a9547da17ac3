// process_tree.hpp: what runs below a sandbox's init, read from /proc. Both
// backends run a supervisor (the jail's pid 1, the container's agent) that
// every command and every orphaned background process of the sandbox hangs
// below, so its children tell whether anything runs there.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace isb::isolation {

//! The number of direct children of host pid `pid` (over all its threads,
//! /proc/<pid>/task/<tid>/children); -1 when pid is gone or /proc cannot
//! tell (a kernel without CONFIG_PROC_CHILDREN).
int64_t count_children(pid_t pid);

}  // namespace isb::isolation
