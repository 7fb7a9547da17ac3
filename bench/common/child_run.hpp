// child_run.hpp: runs one benchmark contender in a forked child, so that its
// peak RSS and CPU time are its own (wait4's rusage) and its stdout comes back
// as a string. Shared by the analysis and dependencies benchmarks.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace isb::bench {

struct Run {
  double seconds = 0;      // wall time
  double cpu_seconds = 0;  // user + system of the child
  long peak_rss_kb = 0;
  std::string output;  // what fn wrote to fd 1
  int status = 0;      // as from waitpid
};

//! Runs fn in a child; its stdout (written to fd 1 by fn) comes back in output.
template <typename Fn>
Run in_child(Fn fn) {
  int pipefd[2];
  if (pipe(pipefd) != 0) std::perror("pipe"), std::exit(2);
  std::fflush(stdout);  // the child must not inherit and repeat buffered output
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    dup2(pipefd[1], 1);
    close(pipefd[1]);
    int rc = fn();
    std::fflush(stdout);
    _exit(rc);
  }
  close(pipefd[1]);
  Run r;
  char buf[65536];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) r.output.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  struct rusage ru {};
  wait4(pid, &r.status, 0, &ru);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_rss_kb = ru.ru_maxrss;
  r.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return r;
}

}  // namespace isb::bench
