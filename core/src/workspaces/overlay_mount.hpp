// overlay_mount.hpp: overlayfs workspaces: the source as read-only lower
// layer, a per-workspace upper and work dir under the state dir, merged at
// the workspace path.
//
// The source must not change while the workspace lives (overlayfs leaves
// that undefined); the diff of an overlay workspace is its upper layer.
//
// Threading: free functions; callers serialize operations on one workspace.
#pragma once

#include <isb/core/result.hpp>

#include "workspaces/credentials.hpp"

#include <string>
#include <vector>

namespace isb::workspaces {

struct OverlayLayout {
  std::string lower;   // the source directory
  std::string upper;   // per-workspace changes
  std::string work;    // overlayfs scratch, same filesystem as upper
  std::string merged;  // the workspace path
};

//! Mounts the overlay (upper, work and merged must exist). The error says
//! why overlayfs is unavailable (not root, no kernel support, a lower path
//! overlayfs cannot take), so callers can fall back to a copy.
Status mount_overlay(const OverlayLayout& layout);

//! Lazily unmounts path if it is a mount point; success when it is not.
Status unmount_if_mounted(const std::string& path);

//! True when path is the root of a mount (listed in /proc/self/mountinfo).
bool is_mount_point(const std::string& path);

//! Mount points strictly under dir, from /proc/self/mountinfo.
std::vector<std::string> mounts_under(const std::string& dir);

//! Hides every secret entry of lower (see credentials.hpp) and every
//! entry its .sandboxignore or extra_excludes (sandbox.copy_excludes) name
//! by a whiteout in upper, before mounting. Reads directory entries only, no
//! stat per file. Returns the hidden relative paths.
Result<std::vector<std::string>> hide_credentials(const std::string& lower, const std::string& upper,
                                                  const std::vector<std::string>& extra_excludes,
                                                  const SecretPaths& secrets);

//! Overlay whiteout: a 0/0 character device.
bool is_whiteout(unsigned mode, unsigned long rdev);

}  // namespace isb::workspaces
