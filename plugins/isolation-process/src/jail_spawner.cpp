// jail_spawner.cpp: clone() straight into the new namespaces, then execve of
// isb-supervisor. The server is multi-threaded, so the cloned child only makes
// raw system calls (read, setresgid/setresuid or capget/capset/prctl, unshare,
// dup2, execve, write, _exit): no locks, no allocation, no libc set*id broadcast.
#include "jail_spawner.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <future>

#include "sandbox-agent/protocol.hpp"

namespace isb::process {
namespace {

constexpr int kSetupTimeoutMs = 20000;
constexpr size_t kStackSize = 64 * 1024;

struct ChildArgs {
  int sync_fd;
  int error_fd;
  int control_fd;
  JailIdentity identity;
  int last_cap;  // highest capability number this kernel knows
  const char* path;
  char* const* argv;
  char* const* envp;
  const int* cgroup_fds;
  size_t cgroup_fd_count;
  int cgroup_leaf_fd;
};

[[noreturn]] void child_fail(int fd, int32_t step) {
  int32_t msg[2] = {step, errno};
  ssize_t ignored = ::write(fd, msg, sizeof msg);
  (void)ignored;
  ::_exit(127);
}

int child_main(void* p) {
  const ChildArgs* a = static_cast<const ChildArgs*>(p);
  char go = 0;
  ssize_t n;
  do {
    n = ::read(a->sync_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'G') ::_exit(126);  // the backend gave up on us
  // Joining by writing "0" (this thread) to fds the root server opened: the
  // kernel skips its global threadgroup lock for the writer itself, where the
  // server writing our pid waited out an RCU grace period (10-30 ms a create).
  for (size_t i = 0; i < a->cgroup_fd_count; ++i) {
    if (::write(a->cgroup_fds[i], "0", 1) != 1) child_fail(a->error_fd, 6);
  }
  if (a->identity == JailIdentity::kUidRange) {
    // Become the namespace's root (host_uid) so that exec keeps the namespace's
    // capabilities for building the jail. Raw syscalls: this thread only.
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0) child_fail(a->error_fd, 1);
    if (::syscall(SYS_setresuid, 0, 0, 0) != 0) child_fail(a->error_fd, 2);
  } else if (a->identity == JailIdentity::kServerUser) {
    // No root is mapped, so exec as uid 1000 would drop the capabilities the
    // new namespace gave us; as ambient capabilities they survive it.
    struct __user_cap_header_struct hdr {
      _LINUX_CAPABILITY_VERSION_3, 0
    };
    struct __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) != 0) child_fail(a->error_fd, 7);
    data[0].inheritable = data[0].permitted;
    data[1].inheritable = data[1].permitted;
    if (::syscall(SYS_capset, &hdr, data) != 0) child_fail(a->error_fd, 7);
    for (int cap = 0; cap <= a->last_cap; ++cap) {
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) child_fail(a->error_fd, 7);
    }
  }
  // The cgroup namespace is made after the backend moved us into our cgroups,
  // so the jail sees its own cgroup as "/".
  if (::unshare(CLONE_NEWCGROUP) != 0) child_fail(a->error_fd, 3);
  if (a->cgroup_leaf_fd >= 0 && ::write(a->cgroup_leaf_fd, "0", 1) != 1) child_fail(a->error_fd, 8);
  if (::dup2(a->control_fd, 3) < 0) child_fail(a->error_fd, 4);
  ::execve(a->path, a->argv, a->envp);
  child_fail(a->error_fd, 5);
}

const char* child_step(int32_t step) {
  switch (step) {
    case 1:
      return "setresgid(0) in the new user namespace";
    case 2:
      return "setresuid(0) in the new user namespace";
    case 3:
      return "unshare(CLONE_NEWCGROUP)";
    case 4:
      return "dup2 of the control socket";
    case 6:
      return "joining the workspace cgroups";
    case 8:
      return "joining the supervisor's leaf cgroup";
    case 7:
      return "keeping the user namespace's capabilities across exec (ambient capabilities)";
    default:
      return "execve of the supervisor";
  }
}

void write_proc(pid_t pid, const char* file, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int e = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw sdk::Error(ISB_UNAVAILABLE, "writing '" + text + "' to " + path + " failed: " + strerror(e));
}

//! /proc/sys/kernel/cap_last_cap, read once: the ambient set can hold no more.
int last_capability() {
  static const int last = [] {
    int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    char buf[16] = {};
    ssize_t n = fd >= 0 ? ::read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) ::close(fd);
    return n > 0 ? std::atoi(buf) : CAP_LAST_CAP;
  }();
  return last;
}

void reap(pid_t pid) {
  while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
  }
}

Jail spawn_now(const JailLaunch& launch) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw sdk::Error(ISB_UNAVAILABLE, std::string("socketpair failed: ") + strerror(errno));
  }
  // Neither end may be fd 3: dup2(3, 3) would keep close-on-exec set.
  agent::Fd ours(agent::raise_fd(sv[0], 10)), theirs(agent::raise_fd(sv[1], 10));
  agent::Fd sync_r, sync_w, err_r, err_w;
  agent::make_pipe(sync_r, sync_w);
  agent::make_pipe(err_r, err_w);

  std::string path = launch.supervisor_path;
  char arg0[] = "isb-supervisor";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  ChildArgs args{sync_r.get(),
                 err_w.get(),
                 theirs.get(),
                 launch.identity,
                 last_capability(),
                 path.c_str(),
                 argv,
                 envp,
                 launch.cgroup_join_fds.data(),
                 launch.cgroup_join_fds.size(),
                 launch.cgroup_leaf_fd};

  const bool user_namespace = launch.identity != JailIdentity::kNoUserNamespace;
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
  if (user_namespace) flags |= CLONE_NEWUSER;
  void* stack =
      ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) throw sdk::Error(ISB_UNAVAILABLE, std::string("mmap failed: ") + strerror(errno));
  // Without CLONE_VM the child runs on its own copy of this stack.
  pid_t pid = ::clone(child_main, static_cast<char*>(stack) + kStackSize, flags, &args);
  int clone_errno = errno;
  ::munmap(stack, kStackSize);
  if (pid < 0) {
    throw sdk::Error(ISB_UNAVAILABLE,
                     std::string("clone into new namespaces failed: ") + strerror(clone_errno));
  }
  sync_r.reset();
  err_w.reset();
  theirs.reset();
  Jail jail{pid, std::move(ours)};
  try {
    if (launch.identity == JailIdentity::kUidRange) {
      std::string uid = std::to_string(launch.host_uid), uid1 = std::to_string(launch.host_uid + 1);
      write_proc(pid, "setgroups", "deny");
      write_proc(pid, "uid_map", "0 " + uid + " 1\n1000 " + uid1 + " 1\n");
      write_proc(pid, "gid_map", "0 " + uid + " 1\n1000 " + uid1 + " 1\n");
    } else if (launch.identity == JailIdentity::kServerUser) {
      // The kernel lets the namespace's owner map its own ids, one line
      // each, and the gid only once setgroups is denied.
      write_proc(pid, "setgroups", "deny");
      write_proc(pid, "uid_map", "1000 " + std::to_string(::geteuid()) + " 1\n");
      write_proc(pid, "gid_map", "1000 " + std::to_string(::getegid()) + " 1\n");
    }
    // Pid 1 should survive a memory-limit OOM so that the command, not the
    // jail, is what dies; commands reset this to 0 before exec. Best effort: a
    // host may forbid lowering it (then the OOM killer still prefers the big
    // command over the tiny supervisor, and losing pid 1 is reported).
    try {
      write_proc(pid, "oom_score_adj", "-1000");
    } catch (const sdk::Error&) {
    }
    if (::write(sync_w.get(), "G", 1) != 1)
      throw sdk::Error(ISB_UNAVAILABLE, "cannot release the supervisor");
    sync_w.reset();
    int32_t failure[2] = {0, 0};
    ssize_t n;
    do {
      n = ::read(err_r.get(), failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == sizeof failure) {
      throw sdk::Error(ISB_UNAVAILABLE, std::string("starting the supervisor failed at ") +
                                            child_step(failure[0]) + ": " + strerror(failure[1]) + " (" +
                                            launch.supervisor_path + ")");
    }
    uint32_t flags = 0;
    if (user_namespace) flags |= agent::wire::kFlagUserNamespace;
    if (!launch.seccomp_bpf.empty()) flags |= agent::wire::kFlagSeccomp;
    if (launch.command_cgroup_fd >= 0) flags |= agent::wire::kFlagCommandCgroups;
    const uint32_t target = user_namespace ? 1000 : launch.host_uid + 1;
    agent::wire::Writer init(agent::wire::kInit);
    init.u32(target)
        .u32(target)
        .u32(flags)
        .u64(launch.tmp_bytes)
        .u64(launch.shm_bytes)
        .str(launch.workspace_path)
        .str(launch.seccomp_bpf);
    struct iovec iov {
      const_cast<char*>(init.bytes().data()), init.bytes().size()
    };
    struct msghdr mh {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(struct cmsghdr) char cmsg_buf[CMSG_SPACE(sizeof(int))] = {};
    if (launch.command_cgroup_fd >= 0) {
      mh.msg_control = cmsg_buf;
      mh.msg_controllen = sizeof cmsg_buf;
      struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &launch.command_cgroup_fd, sizeof(int));
    }
    if (::sendmsg(jail.control.get(), &mh, MSG_NOSIGNAL) < 0) {
      throw sdk::Error(ISB_UNAVAILABLE, std::string("sending the jail spec failed: ") + strerror(errno));
    }
    struct pollfd pfd {
      jail.control.get(), POLLIN, 0
    };
    if (::poll(&pfd, 1, kSetupTimeoutMs) <= 0) {
      throw sdk::Error(ISB_UNAVAILABLE, "the supervisor did not finish building the jail within 20 s");
    }
    std::string reply(4096, '\0');
    ssize_t got = ::recv(jail.control.get(), reply.data(), reply.size(), 0);
    if (got <= 0) throw sdk::Error(ISB_UNAVAILABLE, "the supervisor exited while building the jail");
    agent::wire::Reader r(reply.data(), static_cast<size_t>(got));
    uint32_t type = r.u32();
    if (type == agent::wire::kSetupFailed) {
      throw sdk::Error(ISB_UNAVAILABLE, "building the jail failed: " + r.str());
    }
    if (type != agent::wire::kReady) throw sdk::Error(ISB_UNAVAILABLE, "the supervisor sent an unexpected reply");
  } catch (...) {
    JailSpawner::kill(jail);
    throw;
  }
  return jail;
}

}  // namespace

JailSpawner::JailSpawner() : thread_([this] { loop(); }) {}

JailSpawner::~JailSpawner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void JailSpawner::loop() {
  // Supplementary groups are per-thread credentials at the kernel level; only
  // this thread's go (and so never reach a supervisor). Needs root; harmless if not.
  ::syscall(SYS_setgroups, 0, nullptr);
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

Jail JailSpawner::spawn(const JailLaunch& launch) {
  std::packaged_task<Jail()> task([&] { return spawn_now(launch); });
  std::future<Jail> result = task.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) throw sdk::Error(ISB_UNAVAILABLE, "the backend is shutting down");
    jobs_.emplace_back([&task] { task(); });
  }
  cv_.notify_one();
  return result.get();
}

void JailSpawner::kill(Jail& jail) {
  if (jail.pid > 0) {
    ::kill(jail.pid, SIGKILL);
    reap(jail.pid);
    jail.pid = -1;
  }
  jail.control.reset();
}

}  // namespace isb::process
