// path_checks.hpp: the doctor's look at the files and directories the server
// trusts or writes: who owns them, their mode, whether this user can write
// them, and whether another user can change them.
//
//   std::vector<Problem> problems;
//   json::object d = check_state_dir("state_dir", cfg.state_dir(), "sandbox.state_dir", problems);
//
// Threading: free functions, no shared state.
// host paths only: the server's own config, plugin and state paths, never a path inside a workspace.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace isb::doctor {

struct Problem {
  std::string severity;  // "error": the level's needs are unmet or the server cannot start; else "warning"
  std::string what;
  std::string fix;                          // a command, or the setting to change; all of it is needed
  std::vector<std::string> alternatives{};  // other ways out, each enough on its own
};

//! The name of the user running this process ("uid N" when it has none).
std::string current_user();

//! A directory the server creates and writes (state, workspaces, cache,
//! logs). setting names the key that moves it. Missing is fine when its
//! nearest existing parent is writable (the server creates it at start).
boost::json::object check_state_dir(const std::string& role, const std::string& path,
                                    const std::string& setting, std::vector<Problem>& problems);

//! A file or directory the server trusts (its config file, a plugin
//! directory): it and every directory above it must be owned by root or
//! this user and not writable by others, or another user could change what
//! the server does. what names it in messages ("config file").
boost::json::object check_trusted_path(const std::string& what, const std::string& path,
                                       std::vector<Problem>& problems);

//! Free and total space of the filesystem that holds path (or its nearest
//! existing parent), in MB; a warning when less than need_mb is free.
boost::json::object check_free_space(const std::string& path, int64_t need_mb,
                                     std::vector<Problem>& problems);

}  // namespace isb::doctor
