// user_namespaces.cpp: the settings that forbid unprivileged user namespaces,
// a one-off test that one can be made, and the fix for each case.
#include "user_namespaces.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace isb::process {
namespace {

constexpr const char* kSysctlFile = "/etc/sysctl.d/60-intelligent-sandbox-userns.conf";

//! The first line of a small file, without its newline; nullopt when unreadable.
std::optional<std::string> read_line(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[64] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n < 0) return std::nullopt;
  std::string s(buf, static_cast<size_t>(n));
  return s.substr(0, s.find('\n'));
}

//! "sudo sysctl -w name=value", and the line that keeps it after a reboot.
std::string sysctl_fix(const std::string& name, const std::string& value) {
  return "sudo sysctl -w " + name + "=" + value + " && echo '" + name + " = " + value + "' | sudo tee " +
         kSysctlFile;
}

int exit_at_once(void*) { return 0; }

}  // namespace

std::optional<UsernsBlocker> find_userns_blocker(const std::string& proc_sys,
                                                 const std::string& server_binary) {
  if (read_line(proc_sys + "/kernel/unprivileged_userns_clone") == "0") {
    return UsernsBlocker{"kernel.unprivileged_userns_clone = 0",
                         "this kernel lets only root create user namespaces (a Debian/Ubuntu kernel switch)",
                         sysctl_fix("kernel.unprivileged_userns_clone", "1"), true};
  }
  if (read_line(proc_sys + "/user/max_user_namespaces") == "0") {
    return UsernsBlocker{"user.max_user_namespaces = 0",
                         "no process on this host may create a user namespace",
                         sysctl_fix("user.max_user_namespaces", "15000"), true};
  }
  if (read_line(proc_sys + "/kernel/apparmor_restrict_unprivileged_userns") == "1") {
    // Ubuntu's own recommendation: a profile for the one program that needs
    // them, rather than lifting the restriction for every program.
    const std::string exe = server_binary.empty() ? "/usr/local/bin/intelligent-sandbox" : server_binary;
    return UsernsBlocker{
        "kernel.apparmor_restrict_unprivileged_userns = 1",
        "AppArmor gives a process no capabilities in a user namespace it creates unless its profile allows "
        "`userns`",
        "printf 'abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile intelligent-sandbox " + exe +
            " flags=(unconfined) {\\n  userns,\\n}\\n' | sudo tee /etc/apparmor.d/intelligent-sandbox && "
            "sudo "
            "apparmor_parser -r /etc/apparmor.d/intelligent-sandbox (or, for every program on the host: " +
            sysctl_fix("kernel.apparmor_restrict_unprivileged_userns", "0") + ")",
        false};
  }
  return std::nullopt;
}

int try_user_namespace() {
  // The child only returns: nothing in it touches the parent's locks or heap.
  constexpr size_t kStack = 16 * 1024;
  void* stack =
      ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return errno;
  pid_t pid = ::clone(exit_at_once, static_cast<char*>(stack) + kStack, CLONE_NEWUSER | SIGCHLD, nullptr);
  int err = pid < 0 ? errno : 0;
  if (pid > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  ::munmap(stack, kStack);
  return err;
}

UsernsBlocker explain_userns_errno(int err, const std::string& proc_sys) {
  const std::string what = std::string("creating a user namespace failed: ") + std::strerror(err);
  if (err == ENOSPC) {
    std::string max = read_line(proc_sys + "/user/max_user_namespaces").value_or("?");
    return UsernsBlocker{
        "user.max_user_namespaces",
        what + " (the user namespaces allowed here, " + max + ", or in an enclosing namespace, are used up)",
        sysctl_fix("user.max_user_namespaces", "15000") +
            ", or end other sandboxes and containers of this user",
        true};
  }
  if (err == EINVAL || err == ENOSYS) {
    return UsernsBlocker{"CONFIG_USER_NS", what + " (this kernel was built without user namespaces)",
                         "boot a kernel built with CONFIG_USER_NS=y, or run the server as root", true};
  }
  // EPERM: no sysctl said no, so a filter above us did: a container's seccomp
  // profile (Docker's default refuses CLONE_NEWUSER) or a security module.
  return UsernsBlocker{"clone(CLONE_NEWUSER) refused",
                       what +
                           " (no sysctl forbids it: a seccomp filter, such as a container's default profile, "
                           "or a security module does)",
                       "run the server outside the container, or in one whose seccomp profile allows user "
                       "namespaces (docker run --security-opt seccomp=unconfined, podman run --security-opt "
                       "seccomp=unconfined), or as root",
                       true};
}

}  // namespace isb::process
