// run_result.hpp: what one command's run reports, the same for the direct
// runner (isolation-process runner.hpp), the jail client and the container
// agent client (jail_client.hpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace isb::agent {

struct RunResult {
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool timed_out = false;
  bool cancelled = false;
  int64_t duration_ms = 0;
  int64_t stdout_bytes = 0;  // bytes the command wrote, including dropped ones
  int64_t stderr_bytes = 0;
  bool output_truncated = false;
  int64_t max_rss_kb = 0;
  int64_t cpu_ms = 0;
  std::optional<std::string> error;  // set when the child could not exec
  pid_t pgid = -1;
  bool group_still_alive = false;  // background members remain after the main process exited
  //! Jail mode: the supervisor hung up without reporting the command's end, or
  //! did not report it within the bound (jail_client.hpp); `error` says which.
  bool supervisor_lost = false;
  //! Direct mode: the main process (pid == pgid) did not end within
  //! reply_margin_ms after SIGKILL; it is still the caller's unreaped child.
  bool unreaped = false;
};

}  // namespace isb::agent
