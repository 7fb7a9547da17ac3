// jail_setup.cpp: filesystem (tmpfs root, read-only /usr and curated /etc, the
// workspace nosuid/nodev, fresh /proc with sensitive entries covered, minimal
// /dev, capped /tmp, no /sys, pivot_root with the old root detached), loopback
// only networking, the sandbox identity, dropped capabilities, no_new_privs and
// the seccomp filter compiled by the backend. Same order of steps as bubblewrap
// and nsjail: mounts need the namespace's capabilities, so privileges go last.
#include "sandbox-agent/jail_setup.hpp"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace isb::agent::jail {
namespace {

struct Failure {
  std::string message;
};

[[noreturn]] void fail(const std::string& what) { throw Failure{what + ": " + std::strerror(errno)}; }

void check(int rc, const std::string& what) {
  if (rc != 0) fail(what);
}

bool exists(const std::string& p, struct stat* st) { return ::lstat(p.c_str(), st) == 0; }

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) fail("creating " + path);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) fail("writing " + path);
}

void touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) fail("creating mount point " + path);
  ::close(fd);
}

//! Flags a read-only remount must keep: in a user namespace the kernel refuses
//! to clear flags that were locked by the mount's original owner.
unsigned long locked_flags(const std::string& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

//! Binds src over dst (which must exist) and makes it read-only, nosuid, nodev.
void bind_ro(const std::string& src, const std::string& dst, unsigned long extra = 0) {
  check(::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr), "bind " + src + " -> " + dst);
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | extra | locked_flags(dst);
  check(::mount(nullptr, dst.c_str(), nullptr, flags, nullptr), "read-only remount of " + dst);
}

//! Recreates host path `rel` (relative to /, seen under /oldroot) in the new
//! root: symlinks are copied, directories and files bound read-only.
void mirror_ro(const std::string& rel) {
  std::string src = "/oldroot/" + rel, dst = "/" + rel;
  struct stat st {};
  if (!exists(src, &st)) return;
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(src.c_str(), target, sizeof target - 1);
    if (n < 0) fail("readlink " + src);
    target[n] = '\0';
    check(::symlink(target, dst.c_str()), "symlink " + dst);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    check(::mkdir(dst.c_str(), 0755), "mkdir " + dst);
  } else if (S_ISREG(st.st_mode)) {
    touch(dst);
  } else {
    return;  // sockets, fifos and devices in /etc are not for the jail
  }
  bind_ro(src, dst);
}

void mount_tmpfs(const std::string& dst, const std::string& opts, unsigned long flags) {
  check(::mount("tmpfs", dst.c_str(), "tmpfs", flags, opts.c_str()), "tmpfs on " + dst);
}

void build_etc() {
  check(::mkdir("/etc", 0755), "mkdir /etc");
  // What toolchains and resolvers read; nothing with secrets (no shadow, ssh,
  // sudoers, machine-id or credentials).
  static const char* const kEtc[] = {
      "alternatives",   "ssl",         "ca-certificates", "ca-certificates.conf",
      "ld.so.cache",    "ld.so.conf",  "ld.so.conf.d",    "nsswitch.conf",
      "localtime",      "timezone",    "mime.types",      "services",
      "protocols",      "host.conf",   "gai.conf",        "os-release",
      "debian_version", "bash.bashrc", "profile",         "inputrc",
      "terminfo",       "perl",        "python3",         "environment",
      "magic",          "papersize",   "xattr.conf"};
  for (const char* e : kEtc) mirror_ro(std::string("etc/") + e);
  // Private keys readable by a group only (Debian's ssl-cert): a rootless
  // jail keeps the server's supplementary groups (its user namespace denies
  // setgroups), so such a directory is covered by an empty one.
  struct stat st {};
  if (exists("/etc/ssl/private", &st) && S_ISDIR(st.st_mode)) {
    mount_tmpfs("/etc/ssl/private", "mode=0700,size=4k", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }
  write_file("/etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\n"
             "sandbox:x:1000:1000:sandbox:/workspace:/bin/sh\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
             0644);
  write_file("/etc/group", "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n", 0644);
  write_file("/etc/hostname", "sandbox\n", 0644);
  write_file("/etc/hosts", "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n", 0644);
  write_file("/etc/resolv.conf", "# no network in this sandbox\n", 0644);
}

void build_dev(uint64_t shm_bytes) {
  check(::mkdir("/dev", 0755), "mkdir /dev");
  mount_tmpfs("/dev", "mode=0755,size=64k", MS_NOSUID | MS_NOEXEC);
  for (const char* d : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string dst = std::string("/dev/") + d;
    touch(dst);
    std::string src = std::string("/oldroot/dev/") + d;
    // Device nodes stay usable (no MS_NODEV on these binds); mknod is impossible.
    check(::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND, nullptr), "bind " + src);
    check(::mount(nullptr, dst.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC, nullptr),
          "remount " + dst);
  }
  check(::mkdir("/dev/pts", 0755), "mkdir /dev/pts");
  check(::mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"),
        "devpts on /dev/pts");
  check(::symlink("pts/ptmx", "/dev/ptmx"), "symlink /dev/ptmx");
  check(::mkdir("/dev/shm", 01777), "mkdir /dev/shm");
  mount_tmpfs("/dev/shm", "mode=1777,size=" + std::to_string(shm_bytes), MS_NOSUID | MS_NODEV);
  check(::symlink("/proc/self/fd", "/dev/fd"), "symlink /dev/fd");
  check(::symlink("/proc/self/fd/0", "/dev/stdin"), "symlink /dev/stdin");
  check(::symlink("/proc/self/fd/1", "/dev/stdout"), "symlink /dev/stdout");
  check(::symlink("/proc/self/fd/2", "/dev/stderr"), "symlink /dev/stderr");
  check(
      ::mount(nullptr, "/dev", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k"),
      "read-only remount of /dev");
}

void build_proc() {
  check(::mkdir("/proc", 0555), "mkdir /proc");
  check(::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "proc on /proc");
  // Writable kernel knobs become read-only; kernel memory and key/timer dumps
  // are hidden under /dev/null, as runc and bubblewrap do.
  for (const char* p : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs",
                        "/proc/acpi", "/proc/scsi"}) {
    struct stat st {};
    if (exists(p, &st)) bind_ro(p, p, MS_NOEXEC);
  }
  // Kernel information that helps an exploit more than a build: the
  // kernel's config, symbol addresses, loaded modules, slab and page state.
  for (const char* p : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/kallsyms",
                        "/proc/kmsg", "/proc/latency_stats", "/proc/config.gz", "/proc/modules", "/proc/slabinfo",
                        "/proc/vmallocinfo", "/proc/kpagecount", "/proc/kpageflags", "/proc/kpagecgroup",
                        "/proc/iomem", "/proc/ioports", "/proc/buddyinfo", "/proc/pagetypeinfo", "/proc/zoneinfo"}) {
    struct stat st {};
    if (exists(p, &st)) {
      check(::mount("/dev/null", p, nullptr, MS_BIND, nullptr), std::string("cover ") + p);
    }
  }
}

void build_filesystem(const JailSpec& spec) {
  // Nothing of ours propagates to the host, nothing of the host's to us.
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "making / private");
  // The new root is a tmpfs mounted on /tmp; after pivot_root that mount moves to
  // "/" and the host tree, /tmp included, is reachable at /oldroot until detached.
  mount_tmpfs("/tmp", "mode=0755,size=1m", MS_NOSUID | MS_NODEV);
  check(::mkdir("/tmp/oldroot", 0700), "mkdir oldroot");
  check(static_cast<int>(::syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot")), "pivot_root");
  check(::chdir("/"), "chdir /");

  check(::mkdir("/usr", 0755), "mkdir /usr");
  bind_ro("/oldroot/usr", "/usr");
  // usr-merge links (/bin -> usr/bin ...) or, on older layouts, the directories.
  for (const char* d : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) mirror_ro(d);
  build_etc();

  check(::mkdir("/workspace", 0755), "mkdir /workspace");
  std::string ws = "/oldroot" + spec.workspace_host_path;
  check(::mount(ws.c_str(), "/workspace", nullptr, MS_BIND | MS_REC, nullptr), "bind the workspace " + ws);
  check(::mount(nullptr, "/workspace", nullptr,
                MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | locked_flags("/workspace"), nullptr),
        "nosuid,nodev remount of /workspace");

  check(::mkdir("/tmp", 01777), "mkdir /tmp");
  mount_tmpfs("/tmp", "mode=1777,size=" + std::to_string(spec.tmp_bytes), MS_NOSUID | MS_NODEV);
  build_dev(spec.shm_bytes);
  build_proc();  // before the old root goes: the kernel wants a visible proc to allow a new one
  check(::mkdir("/root", 0700), "mkdir /root");
  check(::umount2("/oldroot", MNT_DETACH), "detaching the old root");
  check(::rmdir("/oldroot"), "rmdir /oldroot");
  check(::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=1m"),
        "read-only remount of /");
}

void bring_up_loopback() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket for loopback setup");
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int rc = ::ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int saved = errno;
  ::close(s);
  errno = saved;
  check(rc, "bringing up lo");
}

int last_cap() {
  int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CAP_LAST_CAP;
  char buf[16] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::atoi(buf) : CAP_LAST_CAP;
}

void drop_privileges(const JailSpec& spec) {
  int last = last_cap();
  for (int cap = 0; cap <= last; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("dropping the bounding set");
  }
  check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities");
  // In a user namespace setgroups is denied (the backend wrote "deny" and the
  // spawner had no supplementary groups); as real root we drop them here.
  if (!spec.user_namespace) check(::setgroups(0, nullptr), "setgroups");
  check(::setresgid(spec.target_gid, spec.target_gid, spec.target_gid), "setresgid");
  check(::setresuid(spec.target_uid, spec.target_uid, spec.target_uid), "setresuid");
  struct __user_cap_header_struct hdr {
    _LINUX_CAPABILITY_VERSION_3, 0
  };
  struct __user_cap_data_struct data[2]{};
  check(static_cast<int>(::syscall(SYS_capset, &hdr, data)), "clearing capabilities");
  // Not dumpable: commands of the same uid cannot ptrace pid 1 or read its /proc files.
  check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE");
  check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
  if (!spec.seccomp_bpf.empty()) {
    if (spec.seccomp_bpf.size() % sizeof(struct sock_filter) != 0) {
      errno = EINVAL;
      fail("the seccomp program has a partial instruction");
    }
    struct sock_fprog prog {};
    prog.len = static_cast<unsigned short>(spec.seccomp_bpf.size() / sizeof(struct sock_filter));
    prog.filter = reinterpret_cast<struct sock_filter*>(const_cast<char*>(spec.seccomp_bpf.data()));
    check(::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), "loading the seccomp filter");
  }
}

}  // namespace

std::string setup(const JailSpec& spec) {
  try {
    ::umask(022);
    build_filesystem(spec);
    bring_up_loopback();
    check(::sethostname("sandbox", 7), "sethostname");
    check(::chdir(kWorkspaceMount), "chdir /workspace");
    drop_privileges(spec);
    return "";
  } catch (const Failure& f) {
    return f.message;
  }
}

}  // namespace isb::agent::jail
