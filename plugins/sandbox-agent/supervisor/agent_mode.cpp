// agent_mode.cpp: see agent_mode.hpp. Single-threaded, so fork() here is
// ordinary fork. The message handling follows supervisor_main.cpp's serve()
// (same wire format, same per-command socket semantics); what differs is that
// there is no jail to build and that several control connections come and go
// while PID 1 stays.
#include "agent_mode.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "messages.hpp"
#include "sandbox-agent/protocol.hpp"

namespace isb::agent::container {
namespace {

// Connections beyond this are refused: a server keeps one per workspace, so
// more means something inside the container is knocking on the socket.
constexpr size_t kMaxConnections = 64;

using supervisor::Message;
using supervisor::RunRequest;

Message receive(int sock) { return supervisor::receive(sock, /*nonblocking=*/true); }
void send_message(int sock, const wire::Writer& w) { supervisor::send_message(sock, w, /*nonblocking=*/true); }

//! Child side of a kRun, between fork and exec: the command leads its own
//! session (so kSignal reaches all it started in its group), gets the passed
//! stdio and starts with fds 0-2 only (everything else is close-on-exec).
[[noreturn]] void run_child(const RunRequest& run) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::setsid() < 0) supervisor::child_failed(run.sock, "setsid");
  if (::dup2(run.in, 0) < 0 || ::dup2(run.out, 1) < 0 || ::dup2(run.err, 2) < 0) {
    supervisor::child_failed(run.sock, "redirecting stdio");
  }
  supervisor::chdir_limit_and_exec(run);
}

//! Starts one kRun received on a connection; returns the command's pid or -1.
pid_t start_command(Message& m) {
  RunRequest run;
  if (!supervisor::decode_run(m, &run)) return -1;
  const int sock = run.sock;
  pid_t pid = ::fork();
  if (pid == 0) run_child(run);
  for (int fd : {run.in, run.out, run.err}) ::close(fd);
  if (pid < 0) {
    send_message(sock, wire::Writer(wire::kExecFailed).str("fork").u32(static_cast<uint32_t>(errno)));
    ::close(sock);
    return -1;
  }
  send_message(sock, wire::Writer(wire::kStarted).u32(static_cast<uint32_t>(pid)));
  return pid;
}

int listen_on(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path) return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());  // left by an earlier start of this container
  // Only root (the server, and the container's own root) may connect.
  mode_t old = ::umask(077);
  int rc = ::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int run(const char* socket_dir) {
  // Not dumpable: root in the container has no CAP_SYS_PTRACE, so it can
  // neither ptrace PID 1 (and freeze every command the server waits for) nor
  // read its memory, fds or environment through /proc. Children are dumpable
  // again once they exec their command.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::fprintf(stderr, "isb-supervisor agent: prctl(PR_SET_DUMPABLE, 0) failed: %s\n",
                 std::strerror(errno));
    return 1;
  }
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  int sfd = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  std::string path = std::string(socket_dir) + "/" + kSocketName;
  int lfd = sfd < 0 ? -1 : listen_on(path);
  if (lfd < 0) {
    std::fprintf(stderr, "isb-supervisor agent: cannot listen on %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }

  std::vector<int> connections;
  std::map<pid_t, int> commands;  // pid -> its command socket, -1 once the server side hung up
  for (;;) {
    std::vector<struct pollfd> fds{{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
    for (int c : connections) fds.push_back({c, POLLIN, 0});
    std::vector<pid_t> owners;
    for (const auto& [pid, sock] : commands) {
      if (sock >= 0) {
        fds.push_back({sock, POLLIN, 0});
        owners.push_back(pid);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      bool stop = false;
      while (::read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stop = true;
      }
      if (stop) return 0;  // PID 1 exits: the kernel ends every process of the container
      int status = 0;
      struct rusage ru {};
      pid_t pid;
      while ((pid = ::wait4(-1, &status, WNOHANG, &ru)) > 0) {
        auto it = commands.find(pid);
        if (it == commands.end()) continue;  // an orphan re-parented to PID 1
        if (it->second >= 0) {
          uint64_t cpu_ms = static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                            static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
          send_message(
              it->second,
              wire::Writer(wire::kExited).i32(status).u64(static_cast<uint64_t>(ru.ru_maxrss)).u64(cpu_ms));
          ::close(it->second);
        }
        commands.erase(it);
      }
    }
    if (fds[1].revents) {
      int c;
      while ((c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        if (connections.size() >= kMaxConnections) {
          ::close(c);
        } else {
          connections.push_back(c);
        }
      }
    }
    size_t i = 2;
    std::vector<int> closed;
    for (; i < 2 + connections.size(); ++i) {
      if (!fds[i].revents) continue;
      Message m = receive(fds[i].fd);
      if (m.eof) {
        // The server went away; its commands keep running until their own
        // sockets close (handled below), background processes stay.
        closed.push_back(fds[i].fd);
        continue;
      }
      if (m.data.empty()) continue;
      pid_t pid = start_command(m);
      if (pid > 0) commands[pid] = m.fds[0];
    }
    for (size_t k = 0; i < fds.size(); ++i, ++k) {
      if (!fds[i].revents) continue;
      pid_t owner = owners[k];
      int& sock = commands[owner];
      Message m = receive(sock);
      for (int fd : m.fds) ::close(fd);
      if (m.eof) {
        // Nobody will collect this command's result: it must not keep running.
        ::kill(-owner, SIGKILL);
        ::close(sock);
        sock = -1;
        continue;
      }
      wire::Reader r(m.data.data(), m.data.size());
      if (!m.data.empty() && r.u32() == wire::kSignal) {
        uint32_t sig = r.u32();
        if (r.ok() && sig > 0 && sig < NSIG) ::kill(-owner, static_cast<int>(sig));
      }
    }
    for (int c : closed) {
      ::close(c);
      connections.erase(std::find(connections.begin(), connections.end(), c));
    }
  }
}

}  // namespace isb::agent::container
