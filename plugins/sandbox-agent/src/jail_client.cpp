// jail_client.cpp: the server side of one kRun (see sandbox-agent/protocol.hpp).
#include "sandbox-agent/jail_client.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "sandbox-agent/protocol.hpp"
#include "sandbox-agent/fd.hpp"

namespace isb::agent {
namespace {

using Clock = std::chrono::steady_clock;

struct Stream {
  Fd fd;
  int32_t id;
  int64_t total = 0;
  int64_t forwarded = 0;
};

//! Reads what is there; false at EOF (fd closed).
bool pump(Stream& s, int64_t cap, const sdk::OutputSink& sink, bool& truncated) {
  std::array<char, 65536> buf;
  for (int round = 0; round < 16; ++round) {
    ssize_t n = ::read(s.fd.get(), buf.data(), buf.size());
    if (n > 0) {
      s.total += n;
      int64_t take = std::min<int64_t>(std::max<int64_t>(0, cap - s.forwarded), n);
      if (take > 0) sink.write(s.id, buf.data(), static_cast<size_t>(take));
      s.forwarded += take;
      if (take < n) truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    s.fd.reset();
    return false;
  }
  return true;
}

void send_signal(int sock, int sig) {
  wire::Writer w(wire::kSignal);
  w.u32(static_cast<uint32_t>(sig));
  ::send(sock, w.bytes().data(), w.bytes().size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

int64_t ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

//! Sends mh on sock, waiting for room in the socket until `until` (a frozen
//! supervisor stops reading, and its queue fills). "" once sent, else why not.
std::string send_until(int sock, const struct msghdr& mh, Clock::time_point until) {
  for (;;) {
    if (::sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return "";
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return strerror(errno);
    auto left = ms_between(Clock::now(), until);
    if (left <= 0) return "it took no request within the command's bound";
    pollfd p{sock, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
  }
}

//! The message of a kExecFailed: what the supervisor could not do for the command.
std::string exec_failure(const std::string& stage, int err, const std::string& argv0) {
  if (stage == "exec") return "exec failed: " + std::string(strerror(err)) + " ('" + argv0 + "')";
  std::string msg = stage + " failed: " + strerror(err);
  if (stage == "fork" && err == EAGAIN) {
    msg +=
        " (the workspace's process limit, max_processes, is probably reached: wait for its background "
        "processes to end or stop them, then retry)";
  }
  return msg;
}

}  // namespace

RunResult run_in_jail(const Fd& control, std::mutex& send_mu, const JailRunRequest& req,
                      const sdk::OutputSink& sink) {
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  make_pipe(in_r, in_w);
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw sdk::Error(ISB_ERROR, std::string("socketpair failed: ") + strerror(errno));
  }
  Fd cmd(sv[0]), cmd_theirs(sv[1]);

  wire::Writer run(wire::kRun);
  run.strs(req.argv).strs(req.env).str(req.cwd).u32(static_cast<uint32_t>(req.rlimits.size()));
  for (const auto& [res, value] : req.rlimits) run.u32(res).u64(value);
  if (run.bytes().size() > wire::kMaxMessage) {
    throw sdk::Error(ISB_INVALID_ARGUMENT, "the command line and environment are too large (over 192 KiB)");
  }
  int fds[4] = {cmd_theirs.get(), in_r.get(), out_w.get(), err_w.get()};
  alignas(struct cmsghdr) char cmsg_buf[CMSG_SPACE(sizeof fds)] = {};
  struct iovec iov {
    const_cast<char*>(run.bytes().data()), run.bytes().size()
  };
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cmsg_buf;
  mh.msg_controllen = sizeof cmsg_buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  RunResult result;
  const Clock::time_point started = Clock::now();
  const Clock::time_point deadline = started + std::chrono::milliseconds(req.timeout_ms);
  const auto grace = std::chrono::milliseconds(req.kill_grace_ms);
  const auto margin = std::chrono::milliseconds(req.reply_margin_ms);
  auto lost = [&](const std::string& why) {
    result.supervisor_lost = true;
    result.error = why;
    result.duration_ms = ms_between(started, Clock::now());
    return result;
  };
  Fd ctl;
  {
    std::lock_guard<std::mutex> lock(send_mu);
    if (control.get() < 0) throw sdk::Error(ISB_NOT_FOUND, "the sandbox is being destroyed");
    int dup = ::fcntl(control.get(), F_DUPFD_CLOEXEC, 3);
    if (dup < 0)
      throw sdk::Error(ISB_ERROR, std::string("duplicating the control socket failed: ") + strerror(errno));
    ctl = Fd(dup);
  }
  // Sending waits outside send_mu, so one frozen supervisor holds up only
  // this call, never the others on the same sandbox (or its destroy).
  std::string send_error = send_until(ctl.get(), mh, deadline + grace + margin);
  ctl.reset();
  if (!send_error.empty()) return lost("the command could not be handed to it: " + send_error);
  cmd_theirs.reset();
  in_r.reset();
  out_w.reset();
  err_w.reset();

  Stream out{std::move(out_r), ISB_STREAM_STDOUT}, err{std::move(err_r), ISB_STREAM_STDERR};
  set_nonblocking(out.fd.get());
  set_nonblocking(err.fd.get());
  std::string pending = req.stdin_data.value_or("");
  size_t stdin_off = 0;
  if (pending.empty())
    in_w.reset();
  else
    set_nonblocking(in_w.get());

  bool terminating = false, sent_kill = false, exited = false, start_failed = false;
  Clock::time_point kill_at{}, give_up_at{};
  int status = 0;
  while (!exited) {
    auto now = Clock::now();
    if (!terminating && (sink.cancelled() || now >= deadline)) {
      (sink.cancelled() ? result.cancelled : result.timed_out) = true;
      terminating = true;
      send_signal(cmd.get(), SIGTERM);
      // SIGCONT too: a stopped group would never see the SIGTERM.
      send_signal(cmd.get(), SIGCONT);
      kill_at = now + grace;
    }
    if (terminating && !sent_kill && now >= kill_at) {
      send_signal(cmd.get(), SIGKILL);
      sent_kill = true;
      give_up_at = now + margin;
    }
    if (sent_kill && now >= give_up_at) {
      // A healthy supervisor reports a killed command's end in milliseconds;
      // this one is frozen, or lying: nothing it says can be waited for.
      return lost("it did not report the command's end within " + std::to_string(req.reply_margin_ms) +
                  " ms after SIGKILL (" +
                  (result.cancelled ? "cancelled" : "timeout " + std::to_string(req.timeout_ms) + " ms") +
                  ", kill grace " + std::to_string(req.kill_grace_ms) + " ms)");
    }
    auto until = terminating ? (sent_kill ? give_up_at : kill_at) : deadline;
    int wait_ms = static_cast<int>(std::clamp<int64_t>(ms_between(Clock::now(), until), 1, 50));

    std::array<pollfd, 4> p{};
    nfds_t n = 0;
    p[n++] = {cmd.get(), POLLIN, 0};
    int out_i = -1, err_i = -1, in_i = -1;
    if (out.fd.get() >= 0) out_i = static_cast<int>(n), p[n++] = {out.fd.get(), POLLIN, 0};
    if (err.fd.get() >= 0) err_i = static_cast<int>(n), p[n++] = {err.fd.get(), POLLIN, 0};
    if (in_w.get() >= 0) in_i = static_cast<int>(n), p[n++] = {in_w.get(), POLLOUT, 0};
    int r = ::poll(p.data(), n, wait_ms);
    if (r < 0 && errno != EINTR) throw sdk::Error(ISB_ERROR, std::string("poll failed: ") + strerror(errno));
    if (r <= 0) continue;
    if (out_i >= 0 && p[out_i].revents) pump(out, req.max_output_bytes, sink, result.output_truncated);
    if (err_i >= 0 && p[err_i].revents) pump(err, req.max_output_bytes, sink, result.output_truncated);
    if (in_i >= 0 && p[in_i].revents) {
      if (p[in_i].revents & (POLLERR | POLLHUP)) {
        in_w.reset();
      } else {
        ssize_t w = write_no_sigpipe(in_w.get(), pending.data() + stdin_off, pending.size() - stdin_off);
        if (w > 0) stdin_off += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_off >= pending.size()) in_w.reset();
      }
    }
    if (p[0].revents) {
      std::string msg(4096, '\0');
      ssize_t got = ::recv(cmd.get(), msg.data(), msg.size(), MSG_DONTWAIT);
      // ECONNRESET comes first when the supervisor closed its end with our
      // kSignal messages unread: its report may still be queued behind it.
      if (got < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNRESET)) continue;
      if (got <= 0) {
        // After kExecFailed without a kExited the command never ran (fork
        // failed): the supervisor closes its socket and lives on.
        if (start_failed) break;
        // Otherwise it died (workspace destroyed, or killed), and the command with it.
        result.signal = SIGKILL;
        return lost("it hung up while the command ran");
      }
      wire::Reader rd(msg.data(), static_cast<size_t>(got));
      uint32_t type = rd.u32();
      if (type == wire::kStarted) {
        result.pgid = static_cast<pid_t>(rd.u32());
      } else if (type == wire::kExecFailed) {
        std::string stage = rd.str();
        int e = static_cast<int>(rd.u32());
        result.error = exec_failure(stage, e, req.argv[0]);
        start_failed = true;
      } else if (type == wire::kExited) {
        status = rd.i32();
        result.max_rss_kb = static_cast<int64_t>(rd.u64());
        result.cpu_ms = static_cast<int64_t>(rd.u64());
        exited = true;
      }
    }
  }
  in_w.reset();
  // Take what is already in the pipes; background processes may hold the
  // write ends open forever, so no waiting for EOF.
  for (Stream* s : {&out, &err}) {
    for (int i = 0; i < 64 && s->fd.get() >= 0; ++i) {
      pollfd q{s->fd.get(), POLLIN, 0};
      if (::poll(&q, 1, 0) <= 0) break;
      if (!pump(*s, req.max_output_bytes, sink, result.output_truncated)) break;
    }
  }
  result.duration_ms = ms_between(started, Clock::now());
  if (exited) {
    if (WIFEXITED(status))
      result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      result.signal = WTERMSIG(status);
  } else {
    result.exit_code = 127;  // never started, as a shell reports a command it cannot run
  }
  result.stdout_bytes = out.total;
  result.stderr_bytes = err.total;
  return result;
}

}  // namespace isb::agent
