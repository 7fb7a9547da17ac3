// seccomp_filter.cpp: builds the denylist with libseccomp and exports it as
// BPF through a memfd, so libseccomp is needed by the plugin only and the
// supervisor loads the finished program with one prctl.
//
// Default action: allow. Denied calls fail with EPERM (programs handle that
// gracefully, unlike a kill); clone3 fails with ENOSYS because its flags sit in
// memory seccomp cannot inspect, which makes libc fall back to clone(), whose
// flags are checked. Any other architecture (i386 via int 0x80, x32) is killed.
#include "seccomp_filter.hpp"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <isb/sdk/plugin.hpp>
#include <memory>

namespace isb::process {
namespace {

const char* const kDenied[] = {
    // mount family and namespace changes
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    // kernel attack surface
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "quotactl",
    "acct",
    "syslog",
    "vhangup",
    "iopl",
    "ioperm",
    "uselib",
    "personality",
    // host state
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "adjtimex",
    "stime",
    "reboot",
    "swapon",
    "swapoff",
    "sethostname",
    "setdomainname",
    // reaching into other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
};

}  // namespace

const char* seccomp_filter_summary() {
  return "denies (EPERM) mount family, pivot_root, chroot, unshare, setns, clone with namespace flags, bpf, "
         "perf_event_open, userfaultfd, keyctl family, io_uring, kexec and modules, open_by_handle_at, clock "
         "setting, reboot, swapon/off, ptrace, process_vm_*, kcmp, pidfd_getfd, syslog, TIOCSTI/TIOCLINUX "
         "ioctls, "
         "AF_PACKET/AF_VSOCK sockets, device nodes (mknod of character or block devices, overlay whiteouts, "
         "renameat2 RENAME_WHITEOUT), setting setuid/setgid bits (chmod family, creat, mknod, open with "
         "O_CREAT/O_TMPFILE); clone3 and openat2 get ENOSYS; foreign architectures are killed";
}

std::string compile_seccomp_filter() {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
  if (!ctx) throw sdk::Error(ISB_UNAVAILABLE, "seccomp_init failed: libseccomp cannot build a filter here");
  auto fail = [](const std::string& what, int rc) {
    throw sdk::Error(ISB_UNAVAILABLE, "building the seccomp filter failed at " + what + ": " + strerror(-rc));
  };
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) fail("the bad-architecture action", rc);
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not a system call on this architecture
    rc = seccomp_rule_add(ctx.get(), deny, nr, 0);
    if (rc < 0) fail(name, rc);
  }
  rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc < 0) fail("clone3", rc);
  // Same for openat2: its mode sits in a struct, so it could create a setuid
  // file past the mode checks below; callers fall back to openat.
  int openat2_nr = seccomp_syscall_resolve_name("openat2");
  if (openat2_nr != __NR_SCMP_ERROR) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), openat2_nr, 0);
    if (rc < 0) fail("openat2", rc);
  }
  // clone(flags, ...) takes its flags in argument 0; one rule per namespace
  // flag, since a masked compare matches "all these bits", not "any".
  for (uint64_t flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS,
                        CLONE_NEWCGROUP}) {
    rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc < 0) fail("clone", rc);
  }
  // The request number is an int: compare the low 32 bits only, or a caller
  // could set high bits the kernel ignores and slip past an exact compare.
  for (uint64_t request : {static_cast<uint64_t>(TIOCSTI), static_cast<uint64_t>(TIOCLINUX)}) {
    rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(ioctl), 1,
                          SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, request));
    if (rc < 0) fail("ioctl", rc);
  }
  // No setuid or setgid files: with an idmapped workspace a file the sandbox
  // creates is owned on disk by the workspace's owner (often root), so such a
  // bit would be a way up for whoever runs the file on the host. The mode
  // argument of each call that creates or changes a mode; open and openat only
  // when they create (O_CREAT or O_TMPFILE), since otherwise mode is ignored.
  struct ModeArg {
    const char* name;
    int fallback_nr;  // for calls newer than this libseccomp; -1: none
    unsigned mode_arg;
    int flags_arg;  // -1: the call always creates or changes the mode
  };
  for (const ModeArg& m : {ModeArg{"chmod", -1, 1, -1}, ModeArg{"fchmod", -1, 1, -1},
                           ModeArg{"fchmodat", -1, 2, -1}, ModeArg{"fchmodat2", 452, 2, -1},
                           ModeArg{"creat", -1, 1, -1}, ModeArg{"mknod", -1, 1, -1},
                           ModeArg{"mknodat", -1, 2, -1}, ModeArg{"open", -1, 2, 1},
                           ModeArg{"openat", -1, 3, 2}}) {
    int nr = seccomp_syscall_resolve_name(m.name);
    if (nr == __NR_SCMP_ERROR) nr = m.fallback_nr;
    if (nr < 0) continue;
    for (uint64_t bit : {static_cast<uint64_t>(S_ISUID), static_cast<uint64_t>(S_ISGID)}) {
      scmp_arg_cmp mode = SCMP_CMP(m.mode_arg, SCMP_CMP_MASKED_EQ, bit, bit);
      if (m.flags_arg < 0) {
        rc = seccomp_rule_add(ctx.get(), deny, nr, 1, mode);
        if (rc < 0) fail(m.name, rc);
        continue;
      }
      for (uint64_t creating : {static_cast<uint64_t>(O_CREAT), static_cast<uint64_t>(O_TMPFILE)}) {
        scmp_arg_cmp flags =
            SCMP_CMP(static_cast<unsigned>(m.flags_arg), SCMP_CMP_MASKED_EQ, creating, creating);
        rc = seccomp_rule_add(ctx.get(), deny, nr, 2, flags, mode);
        if (rc < 0) fail(m.name, rc);
      }
    }
  }
  // No device nodes at all: a 0/0 character device is an overlayfs
  // whiteout, which unprivileged code may make since Linux 5.8 and which
  // would read as a deletion in the workspace's change set. Fifos and
  // sockets (mkfifo) stay allowed. renameat2(RENAME_WHITEOUT) makes one too.
  for (const ModeArg& m : {ModeArg{"mknod", -1, 1, -1}, ModeArg{"mknodat", -1, 2, -1}}) {
    int nr = seccomp_syscall_resolve_name(m.name);
    if (nr == __NR_SCMP_ERROR) continue;
    for (uint64_t type : {static_cast<uint64_t>(S_IFCHR), static_cast<uint64_t>(S_IFBLK)}) {
      rc = seccomp_rule_add(ctx.get(), deny, nr, 1, SCMP_CMP(m.mode_arg, SCMP_CMP_MASKED_EQ, S_IFMT, type));
      if (rc < 0) fail(m.name, rc);
    }
  }
  int renameat2_nr = seccomp_syscall_resolve_name("renameat2");
  if (renameat2_nr != __NR_SCMP_ERROR) {
    constexpr uint64_t kRenameWhiteout = 1 << 2;  // RENAME_WHITEOUT, linux/fs.h
    rc = seccomp_rule_add(ctx.get(), deny, renameat2_nr, 1, SCMP_A4(SCMP_CMP_MASKED_EQ, kRenameWhiteout, kRenameWhiteout));
    if (rc < 0) fail("renameat2", rc);
  }
  for (uint64_t family : {static_cast<uint64_t>(AF_PACKET), static_cast<uint64_t>(AF_VSOCK)}) {
    rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, family));
    if (rc < 0) fail("socket", rc);
  }

  int fd = ::memfd_create("isb-seccomp", MFD_CLOEXEC);
  if (fd < 0) throw sdk::Error(ISB_UNAVAILABLE, std::string("memfd_create failed: ") + strerror(errno));
  rc = seccomp_export_bpf(ctx.get(), fd);
  std::string program;
  if (rc == 0) {
    off_t size = ::lseek(fd, 0, SEEK_END);
    program.resize(size > 0 ? static_cast<size_t>(size) : 0);
    if (size <= 0 || ::pread(fd, program.data(), program.size(), 0) != size) rc = -EIO;
  }
  ::close(fd);
  if (rc < 0) fail("export", rc);
  return program;
}

}  // namespace isb::process
