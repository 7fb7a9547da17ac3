/* container_probe.c: a static program the docker backend's tests copy into a
 * workspace and run inside its container (the test image has only busybox),
 * to attack the in-container agent. Each mode prints one line.
 *
 *   container_probe ptrace_pid1 [hold_s]   PTRACE_ATTACH to PID 1 (the agent); when that
 *                                          works, keeps it stopped for hold_s seconds
 *   container_probe io_uring_setup         io_uring_setup(1, ...)
 *   container_probe fill_pids hold_s       forks children that sleep hold_s seconds until
 *                                          fork fails, then exits leaving them behind, and
 *                                          one that for hold_s seconds takes every pid freed
 *                                          (its own exit's too), so that no fork succeeds
 *   container_probe fake_agent path hold_s binds a SOCK_SEQPACKET listener at path that
 *                                          accepts and never answers, for hold_s seconds */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char* result(long rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }

static void sleep_s(int s) {
  struct timespec ts = {s, 0};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "ptrace_pid1")) {
    long rc = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
    printf("ptrace_pid1 %s\n", result(rc));
    fflush(stdout);
    if (rc == 0 && argc > 2) {
      sleep_s(atoi(argv[2]));
      ptrace(PTRACE_DETACH, 1, NULL, NULL);
    }
    return 0;
  }
  if (!strcmp(mode, "devices")) {
    /* An overlay whiteout (0/0 character device), a block device, a fifo
     * (allowed), and renameat2's whiteout flag. */
    printf("mknod_whiteout %s\n", result(mknod("/tmp/wh", S_IFCHR | 0600, makedev(0, 0))));
    printf("mknod_block %s\n", result(mknod("/tmp/blk", S_IFBLK | 0600, makedev(7, 0))));
    printf("mkfifo %s\n", result(mkfifo("/tmp/fifo", 0600)));
    int fd = open("/tmp/a", O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) close(fd);
    printf("rename_whiteout %s\n", result(syscall(SYS_renameat2, AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/b", 1 << 2)));
    printf("rename %s\n", result(syscall(SYS_renameat2, AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/b", 0)));
    return 0;
  }
  if (!strcmp(mode, "io_uring_setup")) {
    char params[120] = {0};
    printf("io_uring_setup %s\n", result(syscall(SYS_io_uring_setup, 1, params)));
    return 0;
  }
  if (!strcmp(mode, "fill_pids") && argc > 2) {
    int hold = atoi(argv[2]), n = 0;
    time_t end = time(NULL) + hold;
    if (fork() == 0) {
      /* The refiller: takes each pid that frees up until the end. */
      while (time(NULL) < end) {
        pid_t p = fork();
        if (p == 0) {
          sleep_s((int)(end - time(NULL)));
          _exit(0);
        }
        if (p < 0) usleep(1000);
      }
      _exit(0);
    }
    for (;;) {
      pid_t p = fork();
      if (p == 0) {
        sleep_s(hold);
        _exit(0);
      }
      if (p < 0) break;
      ++n;
    }
    printf("fill_pids forked %d, then %s\n", n, strerrorname_np(errno));
    return 0;
  }
  if (!strcmp(mode, "fake_agent") && argc > 3) {
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[2]);
    unlink(argv[2]);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
      printf("fake_agent %s\n", strerrorname_np(errno));
      return 1;
    }
    printf("fake_agent listening\n");
    fflush(stdout);
    time_t end = time(NULL) + atoi(argv[3]);
    while (time(NULL) < end) {
      /* Takes connections and their requests, answers nothing. */
      int c = accept(fd, NULL, NULL);
      if (c < 0) break;
    }
    return 0;
  }
  fprintf(stderr, "unknown mode '%s'\n", mode);
  return 2;
}
