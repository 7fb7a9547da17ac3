/* attack_probe.c: compiled inside the jail by attack_test.cpp; each mode tries
 * one forbidden thing and prints "<name> <errno name or ok>". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char* name, long rc) {
  printf("%s %s\n", name, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "syscalls")) {
    report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    struct perf_event_attr pe = {0};
    pe.size = sizeof pe;
    pe.type = PERF_TYPE_SOFTWARE;
    report("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
    report("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -2));
    char params[120] = {0};
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
    report("socket_vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    report("socket_packet", socket(17 /* AF_PACKET */, SOCK_RAW, 0));
    report("unshare_user", unshare(CLONE_NEWUSER));
    report("unshare_mount", unshare(CLONE_NEWNS));
    report("clone_newuser", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
    report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
    report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
    report("setns", syscall(SYS_setns, 0, 0));
    report("ptrace_pid1", ptrace(PTRACE_ATTACH, 1, NULL, NULL));
    char buf[8];
    struct iovec local = {buf, sizeof buf}, remote = {(void*)0x400000, sizeof buf};
    report("process_vm_readv", syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1, 0));
    report("tiocsti", ioctl(0, TIOCSTI, "x"));
    report("tiocsti_highbits", syscall(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCSTI, "x"));
    struct timespec ts = {0, 0};
    report("clock_settime", clock_settime(CLOCK_REALTIME, &ts));
    report("reboot", reboot(RB_AUTOBOOT));
    report("swapoff", syscall(SYS_swapoff, "/dev/null"));
    report("mknod", mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, 0, NULL, 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("syslog", syscall(SYS_syslog, 3, buf, sizeof buf));
    return 0;
  }
  if (!strcmp(mode, "devices")) {
    /* An overlay whiteout (0/0 character device), a block device, a fifo
     * (allowed), and renameat2's whiteout flag. */
    report("mknod_whiteout", mknod("/tmp/wh", S_IFCHR | 0600, makedev(0, 0)));
    report("mknod_block", mknod("/tmp/blk", S_IFBLK | 0600, makedev(7, 0)));
    report("mkfifo", mkfifo("/tmp/fifo", 0600));
    int fd = open("/tmp/a", O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) close(fd);
    report("rename_whiteout", syscall(SYS_renameat2, AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/b", 1 << 2));
    return 0;
  }
  if (!strcmp(mode, "fds")) {
    int open_fds = 0;
    for (int fd = 3; fd < 4096; ++fd) open_fds += fcntl(fd, F_GETFD) >= 0;
    char root[256] = {0}, cwd[256] = {0};
    readlink("/proc/self/root", root, sizeof root - 1);
    readlink("/proc/self/cwd", cwd, sizeof cwd - 1);
    printf("fds>2 %d root %s cwd %s\n", open_fds, root, cwd);
    return 0;
  }
  if (!strcmp(mode, "int80")) {
    long rc;
    /* getpid through the 32-bit entry point: a foreign architecture for the filter. */
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory");
    printf("int80 returned %ld\n", rc);
    return 0;
  }
  if (!strcmp(mode, "forks")) {
    int n = 0;
    for (int i = 0; i < 1000; ++i) {
      pid_t p = fork();
      if (p == 0) {
        pause();
        _exit(0);
      }
      if (p < 0) break;
      ++n;
    }
    printf("forked %d\n", n);
    return 0;
  }
  fprintf(stderr, "unknown mode '%s'\n", mode);
  return 2;
}
