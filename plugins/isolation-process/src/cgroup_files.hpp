// cgroup_files.hpp: small helpers shared by the cgroup v1 and v2 code: whole
// cgroup files read and written in one system call each (the kernel applies a
// cgroup file write as one unit), directory trees, and the hex names that map
// workspace ids to cgroup names and back.
//
// Thread-safety: free functions without state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace isb::process::cgroup_files {

//! Writes text to path in one write(); false with errno set when it fails.
bool write_text(const std::string& path, const std::string& text);
//! The whole file, or "" when it cannot be read.
std::string read_text(const std::string& path);
//! The value of key in a "key value" file (memory.events, pids.events, cpu.stat); 0 when absent.
int64_t counter(const std::string& path, const std::string& key);
//! The pids listed in dir/cgroup.procs.
std::vector<pid_t> procs(const std::string& dir);
//! dir and every directory below it, children before parents (the order rmdir needs).
std::vector<std::string> subtree(const std::string& dir);
//! Removes dirs in the order given (children before parents), retrying
//! each while rmdir says EBUSY (killed tasks not fully gone yet), for at
//! most 2 s in all; false if one is still there then.
bool remove_dirs(const std::vector<std::string>& dirs);
//! mkdir -p with mode 0755; false with errno set when a level cannot be made.
bool mkdir_p(const std::string& path);
std::string hex(const std::string& s);
std::optional<std::string> unhex(const std::string& s);

}  // namespace isb::process::cgroup_files
