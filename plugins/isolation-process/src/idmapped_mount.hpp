// idmapped_mount.hpp: gives a workspace to the sandbox user without touching
// its files. The staging bind the jail mounts its /workspace from is an
// idmapped mount (mount_setattr MOUNT_ATTR_IDMAP): files whose on-disk owner
// is the workspace root's owner appear owned by the sandbox's host uid, and
// files the sandbox creates land on disk with that owner. Creation is O(1)
// instead of an lchown of every file, which on overlayfs also copies every
// file up.
//
//   mount_idmapped_bind("/tmp/ws/1", "/run/.../ws/3", st.st_uid, st.st_gid, 200007);
//
// Thread-safety: callable from any thread (the user namespace comes from a
// raw clone whose child only reads a pipe and exits).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace isb::process {

//! Binds source (not recursively) at target, an existing empty directory,
//! nosuid and nodev, with on-disk uid disk_uid and gid disk_gid shown as
//! as_id. Throws sdk::Error(ISB_NOT_SUPPORTED, <step and errno>) when the
//! kernel or the filesystem cannot; nothing is left mounted then.
void mount_idmapped_bind(const std::string& source, const std::string& target, uid_t disk_uid, gid_t disk_gid,
                         uint32_t as_id);

}  // namespace isb::process
