// user_namespaces.hpp: can this unprivileged server make the user namespace
// its rootless jail lives in, and if not, which host setting forbids it and
// what an operator runs to allow it.
//
//   if (auto b = find_userns_blocker("/proc/sys", exe)) ...   // a sysctl says no
//   if (int err = try_user_namespace()) explain_userns_errno(err, ...)
//
// Distributions switch unprivileged user namespaces off in different ways:
// Debian and older Ubuntu kernels with kernel.unprivileged_userns_clone = 0,
// RHEL 7 and hardened hosts with user.max_user_namespaces = 0, Ubuntu 23.10+
// with AppArmor (kernel.apparmor_restrict_unprivileged_userns = 1: creating
// one works, but the process gets no capabilities in it unless an AppArmor
// profile allows `userns`), and containers with a seccomp filter (Docker's
// default profile refuses clone(CLONE_NEWUSER) with EPERM).
//
// Thread-safety: free functions without shared state.
#pragma once

#include <optional>
#include <string>

namespace isb::process {

//! A host setting that keeps the rootless jail from being built.
struct UsernsBlocker {
  std::string setting;  //!< the setting and its value, e.g. "kernel.unprivileged_userns_clone = 0"
  std::string detail;   //!< what it does, in one sentence
  std::string fix;      //!< what an operator runs (shell commands) so that the jail can be built
  //! True: the setting alone forbids user namespaces, so there is no point in
  //! trying. False: it may (AppArmor lets a profile allow them), so it is
  //! named only when building the jail failed.
  bool certain = false;
};

//! Reads the sysctls under proc_sys (normally "/proc/sys") that can forbid
//! unprivileged user namespaces and returns the first one that is set that
//! way; nullopt when none is (or none exists on this kernel). server_binary
//! goes into the AppArmor profile of the fix.
std::optional<UsernsBlocker> find_userns_blocker(const std::string& proc_sys,
                                                 const std::string& server_binary);

//! Creates a user namespace once (a child that exits at once) and returns 0,
//! or the errno of clone(CLONE_NEWUSER). Safe in a multi-threaded process.
int try_user_namespace();

//! What a failed clone(CLONE_NEWUSER) with errno err means here and how to
//! allow it; proc_sys as above (for the current user.max_user_namespaces).
UsernsBlocker explain_userns_errno(int err, const std::string& proc_sys);

}  // namespace isb::process
