// runner.cpp: the direct (unjailed) mode: fork/exec of one command in its own
// process group with rlimits, streamed output, timeout and cancellation.
#include "runner.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cstring>

#include "sandbox-agent/fd.hpp"

namespace isb::process {
namespace {

using Clock = std::chrono::steady_clock;

// Stages the child reports through the error pipe when it fails before exec.
enum ChildStage : int32_t {
  kStageSetpgid = 1,
  kStageDup2,
  kStageChdir,
  kStageRlimitCore,
  kStageRlimitNofile,
  kStageRlimitNproc,
  kStageRlimitAs,
  kStageRlimitFsize,
  kStageExec,
};

const char* stage_text(int32_t stage) {
  switch (stage) {
    case kStageSetpgid:
      return "setpgid failed";
    case kStageDup2:
      return "redirecting stdio failed";
    case kStageChdir:
      return "chdir to the working directory failed";
    case kStageRlimitCore:
      return "setrlimit(RLIMIT_CORE) failed";
    case kStageRlimitNofile:
      return "setrlimit(RLIMIT_NOFILE) failed (max_open_files)";
    case kStageRlimitNproc:
      return "setrlimit(RLIMIT_NPROC) failed (max_processes)";
    case kStageRlimitAs:
      return "setrlimit(RLIMIT_AS) failed (memory_mb)";
    case kStageRlimitFsize:
      return "setrlimit(RLIMIT_FSIZE) failed (disk_mb)";
    case kStageExec:
      return "exec failed";
    default:
      return "starting the command failed";
  }
}

std::vector<char*> c_array(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

//! Candidate paths for argv[0], resolved before fork so that the child does no
//! allocation: a name with a slash is used as is, otherwise every PATH entry.
std::vector<std::string> exec_candidates(const std::string& cmd, const std::string& path) {
  if (cmd.find('/') != std::string::npos) return {cmd};
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    out.push_back(dir + "/" + cmd);
    start = end + 1;
  }
  return out;
}

struct Rlimits {
  bool core = true;
  bool nofile = false, nproc = false, as = false, fsize = false;
  rlim_t nofile_v = 0, nproc_v = 0, as_v = 0, fsize_v = 0;
};

rlim_t mib(int64_t mb) {
  constexpr int64_t kMax = static_cast<int64_t>(RLIM_INFINITY >> 21);
  return static_cast<rlim_t>(std::min(mb, kMax)) << 20;
}

// --- child side: only async-signal-safe calls from here -------------------

[[noreturn]] void child_fail(int errfd, int32_t stage, int err) {
  int32_t msg[2] = {stage, err};
  ssize_t ignored = ::write(errfd, msg, sizeof msg);
  (void)ignored;
  ::_exit(127);
}

bool set_limit(int resource, rlim_t value) {
  struct rlimit rl {
    value, value
  };
  return ::setrlimit(resource, &rl) == 0;
}

[[noreturn]] void child_main(int in_fd, int out_fd, int err_fd, int errpipe, const char* cwd,
                             const Rlimits& rl, char* const* candidates, size_t n_candidates,
                             char* const* argv, char* const* envp, int max_fd) {
  if (::setpgid(0, 0) != 0) child_fail(errpipe, kStageSetpgid, errno);
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0)
    child_fail(errpipe, kStageDup2, errno);
  // Keep the error pipe at fd 3 (still close-on-exec) and close everything above.
  if (errpipe != 3) {
    if (::dup2(errpipe, 3) < 0) child_fail(errpipe, kStageDup2, errno);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    errpipe = 3;
  }
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
#endif
  {
    for (int fd = 4; fd < max_fd; ++fd) ::close(fd);
  }
  if (::chdir(cwd) != 0) child_fail(errpipe, kStageChdir, errno);
  if (rl.core && !set_limit(RLIMIT_CORE, 0)) child_fail(errpipe, kStageRlimitCore, errno);
  if (rl.nofile && !set_limit(RLIMIT_NOFILE, rl.nofile_v)) child_fail(errpipe, kStageRlimitNofile, errno);
  if (rl.nproc && !set_limit(RLIMIT_NPROC, rl.nproc_v)) child_fail(errpipe, kStageRlimitNproc, errno);
  if (rl.as && !set_limit(RLIMIT_AS, rl.as_v)) child_fail(errpipe, kStageRlimitAs, errno);
  if (rl.fsize && !set_limit(RLIMIT_FSIZE, rl.fsize_v)) child_fail(errpipe, kStageRlimitFsize, errno);
  // Signals the server ignores (SIGPIPE, ...) would stay ignored across exec;
  // the command gets default dispositions and an empty mask.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);

  int saved = ENOENT;
  for (size_t i = 0; i < n_candidates; ++i) {
    ::execve(candidates[i], argv, envp);
    // Like execvp: remember a permission problem, keep looking on ENOENT & co.
    if (errno == EACCES)
      saved = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
             errno != ETIMEDOUT) {
      saved = errno;
      break;
    }
  }
  child_fail(errpipe, kStageExec, saved);
}

// --- parent side ------------------------------------------------------------

struct StreamState {
  agent::Fd fd;
  int32_t stream;
  int64_t total = 0;
  int64_t forwarded = 0;
};

//! Reads what is available from s; returns false at EOF or error (fd closed).
bool read_some(StreamState& s, const RunRequest& req, const sdk::OutputSink& sink, bool& truncated) {
  std::array<char, 65536> buf;
  for (int round = 0; round < 16; ++round) {
    ssize_t n = ::read(s.fd.get(), buf.data(), buf.size());
    if (n > 0) {
      s.total += n;
      int64_t room = std::max<int64_t>(0, req.max_output_bytes - s.forwarded);
      int64_t take = std::min<int64_t>(room, n);
      if (take > 0) {
        sink.write(s.stream, buf.data(), static_cast<size_t>(take));
        s.forwarded += take;
      }
      if (take < n) truncated = true;
      continue;
    }
    if (n == 0) {
      s.fd.reset();
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    s.fd.reset();
    return false;
  }
  return true;
}

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

bool process_group_alive(pid_t pgid) {
  if (pgid <= 0) return false;
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

RunResult run_command(const RunRequest& req, const sdk::OutputSink& sink,
                      const std::function<void(pid_t)>& on_started) {
  // Everything the child needs is prepared here, before fork.
  std::vector<std::string> argv = req.argv;
  std::vector<std::string> env = req.env;
  std::vector<std::string> candidates = exec_candidates(argv.at(0), req.search_path);
  std::vector<char*> c_argv = c_array(argv);
  std::vector<char*> c_env = c_array(env);
  std::vector<char*> c_candidates = c_array(candidates);
  std::string cwd = req.cwd;
  Rlimits rl;
  if (req.limits.max_open_files)
    rl.nofile = true, rl.nofile_v = static_cast<rlim_t>(*req.limits.max_open_files);
  if (req.limits.max_processes && req.apply_nproc) {
    rl.nproc = true, rl.nproc_v = static_cast<rlim_t>(*req.limits.max_processes);
  }
  if (req.limits.memory_mb) rl.as = true, rl.as_v = mib(*req.limits.memory_mb);
  if (req.limits.disk_mb) rl.fsize = true, rl.fsize_v = mib(*req.limits.disk_mb);
  long open_max = ::sysconf(_SC_OPEN_MAX);
  int max_fd = open_max > 0 && open_max < INT_MAX ? static_cast<int>(open_max) : 65536;

  agent::Fd in_r, in_w, out_r, out_w, err_r, err_w, ep_r, ep_w;
  agent::make_pipe(in_r, in_w);
  agent::make_pipe(out_r, out_w);
  agent::make_pipe(err_r, err_w);
  agent::make_pipe(ep_r, ep_w);

  RunResult result;
  const Clock::time_point started = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) throw sdk::Error(ISB_ERROR, std::string("fork failed: ") + strerror(errno));
  if (pid == 0) {
    child_main(in_r.get(), out_w.get(), err_w.get(), ep_w.get(), cwd.c_str(), rl, c_candidates.data(),
               candidates.size(), c_argv.data(), c_env.data(), max_fd);
  }
  // Both sides call setpgid so the group exists whichever runs first; EACCES
  // (child already exec'd) is fine.
  ::setpgid(pid, pid);
  result.pgid = pid;
  if (on_started) on_started(pid);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  ep_w.reset();

  const Clock::time_point deadline = started + std::chrono::milliseconds(req.timeout_ms);
  // The error pipe reaches EOF at exec (close-on-exec) or when the child dies.
  // A child stuck before exec (chdir or exec on a hung filesystem) is left to
  // the loop below, which stops it at the deadline.
  int32_t failure[2] = {0, 0};
  size_t got = 0;
  while (got < sizeof failure) {
    pollfd p{ep_r.get(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX))) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::read(ep_r.get(), reinterpret_cast<char*>(failure) + got, sizeof failure - got);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ep_r.reset();
  if (got == sizeof failure) {
    std::string msg = std::string(stage_text(failure[0])) + ": " + strerror(failure[1]);
    if (failure[0] == kStageExec) msg += " ('" + req.argv[0] + "')";
    result.error = msg;
  }

  StreamState out{std::move(out_r), ISB_STREAM_STDOUT};
  StreamState err{std::move(err_r), ISB_STREAM_STDERR};
  agent::set_nonblocking(out.fd.get());
  agent::set_nonblocking(err.fd.get());
  std::string pending_stdin = req.stdin_data.value_or("");
  size_t stdin_off = 0;
  if (pending_stdin.empty() || result.error) {
    in_w.reset();
  } else {
    agent::set_nonblocking(in_w.get());
  }

  bool terminating = false;
  bool sent_kill = false;
  Clock::time_point kill_at{}, give_up_at{};
  for (;;) {
    // Has the main process exited? WNOWAIT keeps it a zombie, so its pid (= the
    // group id) cannot be reused while the group is still signalled below.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid)
      break;

    auto now = Clock::now();
    if (!terminating) {
      if (sink.cancelled()) {
        result.cancelled = true;
      } else if (now >= deadline) {
        result.timed_out = true;
      }
      if (result.cancelled || result.timed_out) {
        terminating = true;
        ::kill(-pid, SIGTERM);
        kill_at = now + std::chrono::milliseconds(req.kill_grace_ms);
      }
    }
    if (terminating && !sent_kill && Clock::now() >= kill_at) {
      ::kill(-pid, SIGKILL);
      sent_kill = true;
      give_up_at = Clock::now() + std::chrono::milliseconds(req.reply_margin_ms);
    }
    if (sent_kill && Clock::now() >= give_up_at) {
      // SIGKILL did not end it (uninterruptible sleep, e.g. on a hung
      // filesystem): stop waiting; the caller reaps it later.
      result.unreaped = true;
      break;
    }

    int wait_ms = 50;
    auto until = terminating ? (sent_kill ? give_up_at : kill_at) : deadline;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    wait_ms = static_cast<int>(std::clamp<int64_t>(left, 1, 50));

    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    StreamState* by_index[3] = {nullptr, nullptr, nullptr};
    int stdin_index = -1;
    for (StreamState* s : {&out, &err}) {
      if (s->fd.get() >= 0) {
        fds[n] = {s->fd.get(), POLLIN, 0};
        by_index[n++] = s;
      }
    }
    if (in_w.get() >= 0) {
      fds[n] = {in_w.get(), POLLOUT, 0};
      stdin_index = static_cast<int>(n++);
    }
    int r = ::poll(fds.data(), n, wait_ms);
    if (r < 0 && errno != EINTR) throw sdk::Error(ISB_ERROR, std::string("poll failed: ") + strerror(errno));
    if (r <= 0) continue;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (static_cast<int>(i) == stdin_index) {
        ssize_t w =
            agent::write_no_sigpipe(in_w.get(), pending_stdin.data() + stdin_off, pending_stdin.size() - stdin_off);
        if (w > 0) stdin_off += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_off >= pending_stdin.size()) in_w.reset();
      } else {
        read_some(*by_index[i], req, sink, result.output_truncated);
      }
    }
  }

  // The main process has exited (or would not die, unreaped). On timeout or
  // cancel, nothing of the group may survive; otherwise background processes
  // are left running on purpose.
  if (terminating) ::kill(-pid, SIGKILL);
  in_w.reset();
  // Take what is already in the pipes; do not wait for EOF, since background
  // processes may keep the write ends open indefinitely.
  for (StreamState* s : {&out, &err}) {
    for (int i = 0; i < 64 && s->fd.get() >= 0; ++i) {
      pollfd p{s->fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      if (!read_some(*s, req, sink, result.output_truncated)) break;
    }
    s->fd.reset();
  }

  result.duration_ms = ms_since(started);
  if (result.unreaped) {
    result.error = "the command's process " + std::to_string(pid) + " did not end within " +
                   std::to_string(req.reply_margin_ms) +
                   " ms after SIGKILL (uninterruptible sleep?); it is killed again and reaped when the "
                   "sandbox is used or destroyed next";
    result.stdout_bytes = out.total;
    result.stderr_bytes = err.total;
    return result;
  }
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  result.stdout_bytes = out.total;
  result.stderr_bytes = err.total;
  result.max_rss_kb = ru.ru_maxrss;
  result.cpu_ms =
      (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  result.group_still_alive = !terminating && process_group_alive(pid);
  return result;
}

}  // namespace isb::process
