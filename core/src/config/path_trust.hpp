// path_trust.hpp: may anyone but the server's user (or root) change this file
// or directory? The check sshd's StrictModes makes before it trusts a file.
//
// The config file decides the security level and which plugin directories the
// server loads code from, and a plugin directory holds that code. If another
// user could write either, or any directory above it (and so swap it), that
// user could run code as the server. Such a path is refused, with a message
// naming the path, its mode and owner, and the fix.
//
//   if (Status st = isb::config_internal::check_trusted(path, PathKind::kFile, "config file", geteuid());
//   !st)
//     return st.error();
//
// Rules, for the path (symlinks resolved) and every directory above it:
// - owned by the server's user or by root;
// - not writable by others, nor by the group unless the group is the owner's
//   own (a user-private group with nobody else in it, as Debian's OpenSSH allows);
// - a directory writable by others is accepted only with the sticky bit (/tmp):
//   there nobody but the owner of an entry may rename or remove it.
// The directories of the path as written are checked as well as those of its
// resolved form, so that a symlink cannot lead around the check.
// host paths only: the operator's config files and plugin directories.
#pragma once

#include <sys/types.h>

#include <isb/core/result.hpp>
#include <string>
#include <string_view>

namespace isb::config_internal {

enum class PathKind { kFile, kDirectory };

//! Ok when only uid or root can change path or a directory above it; else an
//! error (kInvalidConfig, or kNotFound when path does not exist) whose message
//! starts with what and path.
Status check_trusted(const std::string& path, PathKind kind, std::string_view what, uid_t uid);

//! Creates path (missing components mode 0700) and checks that uid owns it
//! and that nobody else can write it: the server's state, cache and log
//! directories. A directory of another user (say, made by an earlier server
//! started with sudo) is an error naming the owner and the fixes.
Status ensure_owned_directory(const std::string& path, std::string_view what, std::string_view key,
                              uid_t uid);

//! "0755": the permission bits of mode, as chmod takes them.
std::string mode_string(mode_t mode);

//! The user name of uid, or "uid N" when it has none.
std::string user_name(uid_t uid);

}  // namespace isb::config_internal
