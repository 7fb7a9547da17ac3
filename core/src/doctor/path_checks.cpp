// path_checks.cpp: owners, modes and free space of the server's own paths.
// host paths only: the server's config file, plugin directories and state directories, never a workspace.
#include "doctor/path_checks.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb::doctor {

namespace {

std::string user_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// The path itself when it exists, else its nearest existing parent.
fs::path nearest_existing(const fs::path& path) {
  fs::path p = path.lexically_normal();
  struct stat st {};
  while (!p.empty() && ::lstat(p.c_str(), &st) != 0) {
    if (p == p.root_path()) break;
    p = p.parent_path();
  }
  return p;
}

// Group or others may change it: a write bit, on a directory without the
// sticky bit that keeps others from replacing what they do not own.
bool writable_by_others(const struct stat& st) {
  if (!(st.st_mode & (S_IWGRP | S_IWOTH))) return false;
  return !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX));
}

}  // namespace

std::string current_user() { return user_name(::geteuid()); }

json::object check_state_dir(const std::string& role, const std::string& path, const std::string& setting,
                             std::vector<Problem>& problems) {
  json::object out{{"role", role}, {"path", path}, {"setting", setting}};
  const std::string me = current_user();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const fs::path parent = nearest_existing(path);
    out["exists"] = false;
    const bool can_create = ::access(parent.c_str(), W_OK | X_OK) == 0;
    out["writable"] = can_create;
    if (can_create) {
      out["note"] = "created at start, in " + parent.string();
    } else {
      problems.push_back({"error",
                          role + " " + path + " does not exist and " + me + " cannot create it (" +
                              parent.string() + " is not writable)",
                          "sudo install -d -o " + me + " -m 0700 " + path + ", or set " + setting +
                              " to a directory " + me + " owns"});
    }
    return out;
  }
  out["exists"] = true;
  out["owner"] = user_name(st.st_uid);
  out["mode"] = mode_text(st.st_mode);
  if (!S_ISDIR(st.st_mode)) {
    out["writable"] = false;
    problems.push_back({"error", role + " " + path + " is not a directory",
                        "remove it, or set " + setting + " to a directory"});
    return out;
  }
  const bool writable = ::access(path.c_str(), W_OK | X_OK) == 0;
  out["writable"] = writable;
  if (!writable) {
    // Another user's state stays theirs; root's (left by a run as root) can be handed over.
    std::string fix = "set " + setting + " to a directory " + me + " owns";
    if (st.st_uid == 0) fix += ", or sudo chown -R " + me + " " + path;
    problems.push_back({"error",
                        role + " " + path + " belongs to " + user_name(st.st_uid) + " (mode " +
                            mode_text(st.st_mode) + ") and " + me + " cannot write it",
                        fix});
  } else if (writable_by_others(st)) {
    problems.push_back({"warning",
                        role + " " + path + " (mode " + mode_text(st.st_mode) +
                            ") is writable by other users, who could change the server's state",
                        "chmod go-w " + path});
  }
  return out;
}

json::object check_trusted_path(const std::string& what, const std::string& path,
                                std::vector<Problem>& problems) {
  json::object out{{"path", path}};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out["exists"] = false;
    return out;
  }
  out["exists"] = true;
  out["owner"] = user_name(st.st_uid);
  out["mode"] = mode_text(st.st_mode);
  const uid_t me = ::geteuid();
  // The path and every directory above it: whoever can change one of them
  // can change what the server reads.
  std::error_code ec;
  fs::path p = fs::weakly_canonical(path, ec);
  if (ec) p = fs::path(path).lexically_normal();
  for (;;) {
    struct stat s {};
    if (::stat(p.c_str(), &s) == 0) {
      const bool foreign_owner = s.st_uid != 0 && s.st_uid != me;
      if (foreign_owner || writable_by_others(s)) {
        const std::string why = foreign_owner
                                    ? "belongs to " + user_name(s.st_uid)
                                    : "is writable by other users (mode " + mode_text(s.st_mode) + ")";
        const std::string fix =
            foreign_owner ? "sudo chown " + current_user() + " " + p.string() : "chmod go-w " + p.string();
        problems.push_back({"error",
                            what + " " + path + ": " +
                                (p == fs::path(path) ? std::string("it") : p.string()) + " " + why +
                                ", so another user can change what the server does",
                            fix});
        out["trusted"] = false;
        return out;
      }
    }
    if (p == p.root_path() || p.empty()) break;
    p = p.parent_path();
  }
  out["trusted"] = true;
  return out;
}

json::object check_free_space(const std::string& path, int64_t need_mb, std::vector<Problem>& problems) {
  const fs::path at = nearest_existing(path);
  json::object out{{"path", path}, {"measured_at", at.string()}};
  struct statvfs v {};
  if (::statvfs(at.c_str(), &v) != 0) {
    out["error"] = "statvfs failed";
    return out;
  }
  const int64_t free_mb = static_cast<int64_t>(v.f_bavail) * static_cast<int64_t>(v.f_frsize) >> 20;
  const int64_t total_mb = static_cast<int64_t>(v.f_blocks) * static_cast<int64_t>(v.f_frsize) >> 20;
  out["free_mb"] = free_mb;
  out["total_mb"] = total_mb;
  out["workspace_disk_mb"] = need_mb;
  if (need_mb > 0 && free_mb < need_mb) {
    problems.push_back(
        {"warning",
         "only " + std::to_string(free_mb) + " MB free in " + at.string() +
             ", less than one workspace's disk_mb (" + std::to_string(need_mb) + " MB)",
         "free space there, or set sandbox.base_dir (SANDBOX_BASE_DIR) to a larger filesystem"});
  }
  return out;
}

}  // namespace isb::doctor
