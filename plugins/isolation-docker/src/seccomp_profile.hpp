// seccomp_profile.hpp: the seccomp profile every container of this backend
// runs under, instead of the engine's default. The profile is
// seccomp/container-profile.json, in Docker's profile format: Docker's default
// allowlist for a container without capabilities, native ABI only, without
// ptrace, process_vm_readv/writev and io_uring_*. Embedded at build time, so
// the plugin needs no file at run time; passed as
// HostConfig.SecurityOpt "seccomp=<json>".
#pragma once

namespace isb::docker {

//! The JSON text of seccomp/container-profile.json.
extern const char* const kContainerSeccompProfile;

}  // namespace isb::docker
