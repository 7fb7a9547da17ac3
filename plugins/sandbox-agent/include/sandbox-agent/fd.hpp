// fd.hpp: an owning file descriptor and the pipe helpers shared by the
// process backend's direct runner, the jail client and the docker backend's
// agent connection.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <isb/sdk/plugin.hpp>
#include <string>

namespace isb::agent {

//! An fd closed on destruction. Not thread-safe; owned by one scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

//! Moves fd to a number >= min_fd (close-on-exec), closing the original.
inline int raise_fd(int fd, int min_fd) {
  if (fd >= min_fd) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
  int saved = errno;
  ::close(fd);
  if (moved < 0)
    throw sdk::Error(ISB_ERROR, std::string("fcntl(F_DUPFD_CLOEXEC) failed: ") + strerror(saved));
  return moved;
}

//! A CLOEXEC pipe whose both ends are >= 3, so dup2 onto 0..2 in a child never
//! clobbers another pipe end.
inline void make_pipe(Fd& read_end, Fd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    throw sdk::Error(ISB_ERROR, std::string("pipe2 failed: ") + strerror(errno));
  int r = raise_fd(p[0], 3);
  read_end = Fd(r);
  write_end = Fd(raise_fd(p[1], 3));
}

inline void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

//! Writes to a pipe without letting SIGPIPE hit the server: SIGPIPE is blocked
//! in this thread for the write and a pending one is consumed afterwards.
inline ssize_t write_no_sigpipe(int fd, const char* data, size_t len) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t n = ::write(fd, data, len);
  int saved = errno;
  if (n < 0 && saved == EPIPE) {
    struct timespec zero {
      0, 0
    };
    while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return n;
}

}  // namespace isb::agent
