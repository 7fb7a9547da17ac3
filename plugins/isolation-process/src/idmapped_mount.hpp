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
// Overlay workspaces: overlayfs cannot be idmapped itself, but it can be
// mounted on idmapped layers. mount_overlay_idmapped does that, so an overlay
// workspace too is the sandbox's without copying every file up to chown it.
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

//! The directories of an overlay workspace (see the sandbox spec's "overlay").
struct OverlayLayers {
  std::string lower;  // read-only source
  std::string upper;  // changes; a sibling of work
  std::string work;   // overlayfs scratch
};

//! Mounts the overlay at merged (an existing directory), nosuid and nodev,
//! with no id mapping. Throws sdk::Error(ISB_NOT_SUPPORTED, <errno>).
void mount_overlay_plain(const OverlayLayers& layers, const std::string& merged);

//! Mounts the overlay at merged on idmapped clones of lower and of upper's
//! parent: on-disk disk_uid/disk_gid are seen as as_id, and root keeps an id
//! of its own so that it can still create files. scratch is a path prefix for
//! two short-lived attach points (scratch.lower, scratch.layers). Throws
//! sdk::Error(ISB_NOT_SUPPORTED, <step and errno>); nothing stays mounted then.
void mount_overlay_idmapped(const OverlayLayers& layers, const std::string& merged, uid_t disk_uid,
                            gid_t disk_gid, uint32_t as_id, const std::string& scratch);

}  // namespace isb::process
