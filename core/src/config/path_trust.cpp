// path_trust.cpp: the StrictModes check of config files and plugin directories.
// host paths only: the operator's config files and plugin directories, never a workspace.
#include "path_trust.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace isb::config_internal {
namespace {

namespace fs = std::filesystem;

struct Passwd {
  std::string name;
  gid_t gid = 0;
};

std::optional<Passwd> lookup_user(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
  return Passwd{pw.pw_name, pw.pw_gid};
}

struct Group {
  std::string name;
  std::vector<std::string> members;
};

std::optional<Group> lookup_group(gid_t gid) {
  std::vector<char> buf(65536);
  group gr{};
  group* found = nullptr;
  if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
  Group g{gr.gr_name, {}};
  for (char** m = gr.gr_mem; m && *m; ++m) g.members.emplace_back(*m);
  return g;
}

std::string group_name(gid_t gid) {
  auto g = lookup_group(gid);
  return g ? g->name : "gid " + std::to_string(gid);
}

// A user-private group: named after the owner, the owner's primary group, and
// nobody else listed in it. Writable by that group is writable by the owner
// only (Debian's OpenSSH accepts the same, for umask 002 systems).
bool is_private_group_of_owner(const struct stat& st) {
  auto owner = lookup_user(st.st_uid);
  auto g = lookup_group(st.st_gid);
  if (!owner || !g || owner->gid != st.st_gid || g->name != owner->name) return false;
  return std::all_of(g->members.begin(), g->members.end(),
                     [&](const std::string& m) { return m == owner->name; });
}

// What is wrong with one path on the chain, and the command that fixes it;
// nothing when it is fine. sticky_ok: a directory above the target, where the
// sticky bit keeps others from renaming or removing entries they do not own.
std::optional<std::pair<std::string, std::string>> problem_with(const std::string& p, const struct stat& st,
                                                                uid_t uid, bool sticky_ok) {
  if (st.st_uid != uid && st.st_uid != 0) {
    return std::pair{"is owned by " + user_name(st.st_uid), "chown " + user_name(uid) + " " + p};
  }
  const bool sticky = sticky_ok && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
  if ((st.st_mode & S_IWOTH) && !sticky)
    return std::pair{std::string("is writable by others"), "chmod o-w " + p};
  if ((st.st_mode & S_IWGRP) && !sticky && !is_private_group_of_owner(st)) {
    return std::pair{"is writable by its group " + group_name(st.st_gid), "chmod g-w " + p};
  }
  return std::nullopt;
}

Error refusal(std::string_view what, const std::string& path, const std::string& culprit,
              const struct stat& st, const std::string& problem, const std::string& fix, uid_t uid) {
  std::string where = culprit == path ? culprit : culprit + " (a directory above it)";
  return make_error(ErrorCode::kInvalidConfig,
                    std::string(what) + " " + path + ": refused: " + where + " " + problem + " (mode " +
                        mode_string(st.st_mode) + ", owner " + user_name(st.st_uid) + ", group " +
                        group_name(st.st_gid) + "). A " + std::string(what) +
                        " decides what the server does and runs, so no user but " +
                        (uid == 0 ? std::string("root") : user_name(uid) + " (the server's) or root") +
                        " may be able to change it. Fix: " + fix);
}

// The directories above p ("/a/b/c" -> "/a/b", "/a", "/").
std::vector<std::string> ancestors(const fs::path& p) {
  std::vector<std::string> out;
  for (fs::path d = p.parent_path(); !d.empty(); d = d.parent_path()) {
    out.push_back(d.string());
    if (d == d.root_path()) break;
  }
  return out;
}

}  // namespace

std::string mode_string(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string user_name(uid_t uid) {
  auto u = lookup_user(uid);
  return u ? u->name : "uid " + std::to_string(uid);
}

Status check_trusted(const std::string& path, PathKind kind, std::string_view what, uid_t uid) {
  std::error_code ec;
  const fs::path written = fs::absolute(path, ec);
  if (ec) return make_error(ErrorCode::kInvalidConfig, std::string(what) + " " + path + ": " + ec.message());
  std::unique_ptr<char, decltype(&std::free)> real(realpath(written.c_str(), nullptr), &std::free);
  if (!real) {
    int err = errno;
    if (err == ENOENT)
      return make_error(ErrorCode::kNotFound, std::string(what) + " " + path + " does not exist");
    return make_error(ErrorCode::kInvalidConfig,
                      std::string(what) + " " + path + ": cannot be resolved: " + std::strerror(err));
  }
  const std::string target = real.get();
  struct stat st {};
  if (stat(target.c_str(), &st) != 0) {
    return make_error(ErrorCode::kInvalidConfig,
                      std::string(what) + " " + path + ": cannot be examined: " + std::strerror(errno));
  }
  if (kind == PathKind::kFile && !S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidConfig, std::string(what) + " " + path + " is not a regular file");
  }
  if (kind == PathKind::kDirectory && !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kInvalidConfig, std::string(what) + " " + path + " is not a directory");
  }
  if (auto p = problem_with(target, st, uid, /*sticky_ok=*/false)) {
    return refusal(what, path, target, st, p->first, p->second, uid);
  }
  // Above the resolved path, then above the path as written: a directory on
  // either could be used to put another file in its place.
  std::vector<std::string> chain = ancestors(fs::path(target));
  for (const std::string& d : ancestors(written)) {
    if (std::find(chain.begin(), chain.end(), d) == chain.end()) chain.push_back(d);
  }
  for (const std::string& d : chain) {
    struct stat ds {};
    // A symlink on the written path is judged by the directory holding it (also
    // on the chain); where it leads is covered by the resolved chain.
    if (lstat(d.c_str(), &ds) != 0 || S_ISLNK(ds.st_mode)) continue;
    if (auto p = problem_with(d, ds, uid, /*sticky_ok=*/true))
      return refusal(what, path, d, ds, p->first, p->second, uid);
  }
  return ok_status();
}

Status ensure_owned_directory(const std::string& path, std::string_view what, std::string_view key,
                              uid_t uid) {
  const std::string label = std::string(what) + " " + path;
  if (path.empty() || path.front() != '/') {
    return make_error(ErrorCode::kInvalidConfig,
                      label + ": not an absolute path; set " + std::string(key) + " to one");
  }
  // Component by component, each missing one made private (the XDG base
  // directory rule), so that ~/.local/state does not appear world-readable.
  std::string prefix;
  for (const auto& part : fs::path(path).relative_path()) {
    prefix += "/" + part.string();
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return make_error(ErrorCode::kUnavailable, label + ": cannot create " + prefix + ": " +
                                                     std::strerror(errno) + "; set " + std::string(key) +
                                                     " to a directory this user (" + user_name(uid) +
                                                     ") can write");
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kUnavailable,
                      label + " is not a directory; set " + std::string(key) + " elsewhere");
  }
  if (st.st_uid != uid) {
    return make_error(
        ErrorCode::kPermissionDenied,
        label + " belongs to " + user_name(st.st_uid) + " (uid " + std::to_string(st.st_uid) +
            "), but this server runs as " + user_name(uid) + " (uid " + std::to_string(uid) +
            "): it was probably made by a server started as that user (sudo?). The server keeps " +
            "its database, logs and caches only in directories of its own. Fix: run it as " +
            user_name(st.st_uid) + ", or `sudo chown -R " + user_name(uid) + " " + path + "`, or set " +
            std::string(key) + " to another directory");
  }
  if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && !is_private_group_of_owner(st))) {
    return make_error(
        ErrorCode::kPermissionDenied,
        label + " is writable by " +
            ((st.st_mode & S_IWOTH) ? "others" : "its group " + group_name(st.st_gid)) + " (mode " +
            mode_string(st.st_mode) +
            "): another user could replace the server's database or logs there. Fix: chmod 700 " + path +
            ", or set " + std::string(key) + " to another directory");
  }
  return ok_status();
}

}  // namespace isb::config_internal
