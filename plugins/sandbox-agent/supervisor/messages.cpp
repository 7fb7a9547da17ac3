// messages.cpp: see messages.hpp.
#include "messages.hpp"

#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace isb::agent::supervisor {

Message receive(int sock, bool nonblocking) {
  Message m;
  m.data.resize(wire::kMaxMessage);
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  struct iovec iov {
    m.data.data(), m.data.size()
  };
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && nonblocking && errno == EAGAIN) {
    m.data.clear();
    return m;
  }
  if (n <= 0) {
    m.eof = true;
    m.data.clear();
    return m;
  }
  m.data.resize(static_cast<size_t>(n));
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        m.fds.push_back(fd);
      }
    }
  }
  return m;
}

void send_message(int sock, const wire::Writer& w, bool nonblocking) {
  ssize_t n;
  do {
    n = ::send(sock, w.bytes().data(), w.bytes().size(), MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);
}

bool decode_run(Message& m, RunRequest* out) {
  wire::Reader r(m.data.data(), m.data.size());
  if (r.u32() != wire::kRun || m.fds.size() != 4) {
    for (int fd : m.fds) ::close(fd);
    return false;
  }
  RunRequest run;
  run.argv = r.strs();
  run.env = r.strs();
  run.cwd = r.str();
  uint32_t n = r.u32();
  for (uint32_t k = 0; r.ok() && k < n && k < 16; ++k) {
    uint32_t res = r.u32();
    run.limits.emplace_back(res, r.u64());
  }
  if (!r.ok() || run.argv.empty()) {
    send_message(m.fds[0], wire::Writer(wire::kExecFailed).str("decoding the run request").u32(EINVAL));
    for (int fd : m.fds) ::close(fd);
    return false;
  }
  run.sock = m.fds[0];
  run.in = m.fds[1];
  run.out = m.fds[2];
  run.err = m.fds[3];
  *out = std::move(run);
  return true;
}

void child_failed(int sock, const char* stage) {
  int e = errno;
  send_message(sock, wire::Writer(wire::kExecFailed).str(stage).u32(static_cast<uint32_t>(e)));
  ::_exit(127);
}

void chdir_limit_and_exec(const RunRequest& run) {
  if (::chdir(run.cwd.c_str()) != 0) child_failed(run.sock, "chdir to the working directory");
  for (const auto& [resource, value] : run.limits) {
    struct rlimit rl {
      static_cast<rlim_t>(value), static_cast<rlim_t>(value)
    };
    if (::setrlimit(static_cast<int>(resource), &rl) != 0) child_failed(run.sock, "setrlimit");
  }
  std::vector<char*> c_argv, c_env;
  for (const auto& a : run.argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : run.env) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);
  ::execvpe(c_argv[0], c_argv.data(), c_env.data());
  child_failed(run.sock, "exec");
}

}  // namespace isb::agent::supervisor
