// disk_image.hpp: a workspace's disk_mb as a kernel limit. The workspace's
// files (a copy, or an overlay's upper and work layers) live on an ext4
// image of exactly disk_mb, loop-mounted nodev,nosuid: a write past the
// limit fails with ENOSPC in the sandbox, whether or not a command of the
// executor is running. The image is a sparse file, so it takes host space
// only as it fills. Needs root (loop devices, mount) and mkfs.ext4; where
// either is missing the core falls back to watching usage (see
// WorkspaceService and docs/security.md).
//
//   if (auto why = disk_images_unavailable(); !why) create_disk_image(img, 512, dir, uid, gid);
//
// Threading: free functions; each call works on its own image.
#pragma once

#include <isb/core/result.hpp>

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace isb::workspaces {

//! nullopt when images can be made here, else why not (not root, no loop
//! devices, no mkfs.ext4). Probed once per process.
const std::optional<std::string>& disk_images_unavailable();

//! Why disk images cannot be made here, with what would change that.
struct DiskImageGap {
  std::string why;
  std::string fix;  // a command or action, for intelligent-sandbox doctor
};
//! nullopt when images can be made here; the same probe as disk_images_unavailable().
const std::optional<DiskImageGap>& disk_image_gap();

//! Makes image (a sparse file of size_mb MiB holding an empty ext4) and
//! mounts it on mount_point (an existing empty directory), whose root then
//! belongs to owner:group with mode. The loop device goes away with the
//! mount (autoclear).
Status create_disk_image(const std::string& image, int64_t size_mb, const std::string& mount_point, uid_t owner,
                         gid_t group, mode_t mode);

//! Mounts an existing image on mount_point (after a restart); ok when it is
//! mounted there already.
Status mount_disk_image(const std::string& image, const std::string& mount_point);

}  // namespace isb::workspaces
