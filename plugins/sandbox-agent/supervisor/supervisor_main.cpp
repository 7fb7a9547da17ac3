// supervisor_main.cpp: isb-supervisor, pid 1 of one workspace's jail.
//
// The process backend clones it into new user, mount, pid, net, ipc and uts
// namespaces, with the control socket at fd 3, and sends kInit. The supervisor
// builds the jail (jail_setup.cpp), answers kReady, then runs each kRun as a
// child in its own session, reports start, exec failures and exit (with rusage)
// on the command's own socket, forwards kSignal to the command's process group,
// and reaps every orphan (it is the namespace's init). When the control socket
// closes (server gone) the supervisor exits and the kernel kills the rest of
// the pid namespace: nothing of a workspace outlives its server.
//
// Single-threaded, so fork() here is ordinary fork.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "agent_mode.hpp"
#include "command_cgroups.hpp"
#include "sandbox-agent/jail_setup.hpp"
#include "messages.hpp"
#include "sandbox-agent/protocol.hpp"

namespace isb::agent {
namespace {

constexpr int kControlFd = 3;

using supervisor::Message;
using supervisor::receive;
using supervisor::RunRequest;
using supervisor::send_message;

struct Command {
  int sock = -1;       // the command's socket; -1 once the server side hung up
  std::string cgroup;  // its freezer cgroup (CommandCgroups); empty: its process group only
  bool stopping = false;  // the server signalled it (timeout or cancel)
};

//! Child side of a kRun, between fork and exec. Reports a failure on the
//! command socket (kExecFailed) and exits 127.
[[noreturn]] void run_child(const RunRequest& run, int cgroup_procs) {
  auto failed = [&](const char* stage) { supervisor::child_failed(run.sock, stage); };
  // First, before anything of the command can run: from here on, all it
  // starts stays in its cgroup, whatever session or group it moves to.
  if (cgroup_procs >= 0 && !CommandCgroups::join(cgroup_procs)) failed("joining the command's cgroup");
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::setsid() < 0) failed("setsid");
  if (::dup2(run.in, 0) < 0 || ::dup2(run.out, 1) < 0 || ::dup2(run.err, 2) < 0) failed("redirecting stdio");
  // The supervisor's oom_score_adj (-1000, so the OOM killer picks commands and
  // never pid 1) must not be inherited. The file belongs to the process only
  // while it is dumpable, and exec makes it dumpable again anyway. Only a
  // protective (negative) score is reset: a rootless server could not lower
  // pid 1's score, so pid 1 carries the server's own, which may be above 0
  // (systemd user sessions use 100 or 200) and which an unprivileged process
  // may not lower to 0.
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  int adj = ::open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  if (adj >= 0) {
    char now[16] = {};
    if (::read(adj, now, sizeof now - 1) > 0 && now[0] == '-' && ::write(adj, "0", 1) != 1)
      failed("resetting oom_score_adj");
    ::close(adj);
  }
  // Every other fd (control socket, signalfd, other commands' sockets, this
  // command's socket) is close-on-exec: the command starts with 0-2 only.
  supervisor::chdir_limit_and_exec(run);
}

int serve(int sfd, CommandCgroups& cgroups) {
  std::map<pid_t, Command> commands;
  for (;;) {
    std::vector<struct pollfd> fds{{kControlFd, POLLIN, 0}, {sfd, POLLIN, 0}};
    std::vector<pid_t> owners{0, 0};
    for (const auto& [pid, c] : commands) {
      if (c.sock >= 0) {
        fds.push_back({c.sock, POLLIN, 0});
        owners.push_back(pid);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents) {
      struct signalfd_siginfo si;
      while (::read(sfd, &si, sizeof si) == sizeof si) {
      }
      int status = 0;
      struct rusage ru {};
      pid_t pid;
      while ((pid = ::wait4(-1, &status, WNOHANG, &ru)) > 0) {
        auto it = commands.find(pid);
        if (it == commands.end()) continue;  // an orphan re-parented to us
        // A stopped command's descendants that outlived it (ignoring SIGTERM,
        // in their own session) go with it; those of a command that ended on
        // its own keep running in the background until destroy.
        if (it->second.stopping) cgroups.kill(it->second.cgroup);
        cgroups.finished(it->second.cgroup);
        if (it->second.sock >= 0) {
          uint64_t cpu_ms = static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                            static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
          send_message(
              it->second.sock,
              wire::Writer(wire::kExited).i32(status).u64(static_cast<uint64_t>(ru.ru_maxrss)).u64(cpu_ms));
          ::close(it->second.sock);
        }
        commands.erase(it);
      }
      cgroups.retry();
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Command& c = commands[owners[i]];
      Message m = receive(c.sock);
      for (int fd : m.fds) ::close(fd);
      if (m.eof) {
        // The server stopped listening to this command: nobody will collect
        // its result, so it must not keep running.
        if (c.cgroup.empty()) {
          ::kill(-owners[i], SIGKILL);
        } else {
          c.stopping = true;
          cgroups.kill(c.cgroup);
        }
        ::close(c.sock);
        c.sock = -1;
        continue;
      }
      wire::Reader r(m.data.data(), m.data.size());
      if (r.u32() == wire::kSignal) {
        uint32_t sig = r.u32();
        if (r.ok() && sig > 0 && sig < NSIG) {
          if (c.cgroup.empty()) {
            ::kill(-owners[i], static_cast<int>(sig));
          } else {
            c.stopping = true;
            if (sig == SIGKILL)
              cgroups.kill(c.cgroup);
            else
              cgroups.signal(c.cgroup, static_cast<int>(sig));
          }
        }
      }
    }
    if (fds[0].revents) {
      Message m = receive(kControlFd);
      if (m.eof) return 0;  // the server is gone: pid 1 exits, the kernel kills the rest
      RunRequest run;
      if (!supervisor::decode_run(m, &run)) continue;
      const int sock = run.sock;
      std::string cgroup;
      int procs = -1;
      if (cgroups.enabled() && (procs = cgroups.create(&cgroup)) < 0) {
        // Fail closed: without its cgroup a timeout could not reach all it starts.
        send_message(sock, wire::Writer(wire::kExecFailed)
                               .str("creating the command's cgroup")
                               .u32(static_cast<uint32_t>(errno)));
        for (int fd : {run.sock, run.in, run.out, run.err}) ::close(fd);
        continue;
      }
      pid_t pid = ::fork();
      if (pid == 0) run_child(run, procs);
      if (procs >= 0) ::close(procs);
      for (int fd : {run.in, run.out, run.err}) ::close(fd);
      if (pid < 0) {
        send_message(sock, wire::Writer(wire::kExecFailed).str("fork").u32(static_cast<uint32_t>(errno)));
        ::close(sock);
        cgroups.finished(cgroup);
        continue;
      }
      send_message(sock, wire::Writer(wire::kStarted).u32(static_cast<uint32_t>(pid)));
      commands[pid] = Command{sock, cgroup, false};
    }
  }
}

int supervisor_main() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  ::fcntl(kControlFd, F_SETFD, FD_CLOEXEC);
  // Whatever the server had open without close-on-exec stays outside.
  if (::syscall(SYS_close_range, kControlFd + 1, ~0U, 0U) != 0) {
    for (int fd = kControlFd + 1; fd < 65536; ++fd) ::close(fd);
  }
  Message init = receive(kControlFd);
  if (init.eof) return 1;
  wire::Reader r(init.data.data(), init.data.size());
  jail::JailSpec spec;
  bool is_init = r.u32() == wire::kInit;
  spec.target_uid = r.u32();
  spec.target_gid = r.u32();
  uint32_t flags = r.u32();
  spec.tmp_bytes = r.u64();
  spec.shm_bytes = r.u64();
  spec.workspace_host_path = r.str();
  std::string bpf = r.str();
  if (!is_init || !r.ok()) {
    send_message(kControlFd, wire::Writer(wire::kSetupFailed).str("malformed init message"));
    return 1;
  }
  int cgroup_dir = -1;  // close-on-exec (MSG_CMSG_CLOEXEC): no command inherits it
  if ((flags & wire::kFlagCommandCgroups) && init.fds.size() == 1) {
    cgroup_dir = init.fds[0];
  } else {
    for (int fd : init.fds) ::close(fd);
  }
  CommandCgroups cgroups(cgroup_dir);
  spec.user_namespace = flags & wire::kFlagUserNamespace;
  if (flags & wire::kFlagSeccomp) spec.seccomp_bpf = std::move(bpf);

  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    send_message(kControlFd,
                 wire::Writer(wire::kSetupFailed).str(std::string("signalfd: ") + strerror(errno)));
    return 1;
  }
  std::string error = jail::setup(spec);
  if (!error.empty()) {
    send_message(kControlFd, wire::Writer(wire::kSetupFailed).str(error));
    return 1;
  }
  send_message(kControlFd, wire::Writer(wire::kReady));
  return serve(sfd, cgroups);
}

}  // namespace
}  // namespace isb::agent

// `isb-supervisor agent DIR`: PID 1 of a docker workspace's container (agent_mode.hpp).
int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "agent") == 0) return isb::agent::container::run(argv[2]);
  return isb::agent::supervisor_main();
}
