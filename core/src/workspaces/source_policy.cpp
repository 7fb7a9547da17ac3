// source_policy.cpp: which host directories may become workspaces, and the
// workspace id rule.
// host paths only: the source and target paths the client names (checked here, then opened by descriptor); nothing here names a path inside a workspace.
#include <isb/core/workspace_service.hpp>

#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <regex>

namespace fs = std::filesystem;

namespace isb {

Status validate_workspace_id(const std::string& id) {
  static const std::regex kPattern("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");
  if (!std::regex_match(id, kPattern) || id.find("..") != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid workspace_id '" + id +
                          "': use 1-64 characters from A-Z a-z 0-9 _ . - starting with a letter or digit, without "
                          "'..' or '/' (or omit it to get a generated id)");
  }
  return ok_status();
}

namespace {

bool is_within(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

std::string canonical_or_raw(const std::string& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? fs::path(p).lexically_normal().string() : c.string();
}

}  // namespace

std::optional<std::string> SourcePathPolicy::system_directory(const std::string& path) {
  static const char* kSystem[] = {"/etc", "/proc", "/sys", "/dev", "/boot", "/root/.ssh", "/usr", "/bin", "/sbin",
                                  "/lib", "/lib64", "/run", "/var/lib/dpkg"};
  const fs::path p = fs::path(path).lexically_normal();
  for (const char* s : kSystem) {
    if (is_within(p, s)) return std::string(s);
  }
  return std::nullopt;
}

SourcePathPolicy::SourcePathPolicy(std::vector<std::string> allowed_roots, std::vector<std::string> forbidden)
    : configured_(!allowed_roots.empty()) {
  if (allowed_roots.empty()) {
    if (const char* home = std::getenv("HOME"); home && *home) allowed_roots.push_back(home);
    std::error_code ec;
    allowed_roots.push_back(fs::current_path(ec).string());
    allowed_roots.push_back(fs::temp_directory_path(ec).string());
  }
  for (auto& r : allowed_roots) {
    std::string c = canonical_or_raw(r);
    if (c == "/") continue;  // never the whole filesystem, even if configured
    allowed_.push_back(c);
  }
  for (auto& f : forbidden) forbidden_.push_back(canonical_or_raw(f));
}

SourcePathPolicy SourcePathPolicy::restricted_to(const ClientRoots& roots) const {
  SourcePathPolicy p;
  p.forbidden_ = forbidden_;
  p.configured_ = configured_;
  p.client_ = roots;
  if (configured_) p.configured_roots_ = allowed_;
  auto add = [&p](const std::string& dir) {
    if (std::find(p.allowed_.begin(), p.allowed_.end(), dir) == p.allowed_.end()) p.allowed_.push_back(dir);
  };
  for (const auto& r : roots.directories) {
    std::string c = canonical_or_raw(r);
    if (c == "/") continue;  // never the whole filesystem, whoever offers it
    if (!configured_) {
      add(c);
      continue;
    }
    // The intersection of two sets of trees: the deeper of each nested pair.
    for (const auto& a : allowed_) {
      if (is_within(c, a)) {
        add(c);
      } else if (is_within(a, c)) {
        add(a);
      }
    }
  }
  return p;
}

Result<std::string> SourcePathPolicy::check(const std::string& source_path) const {
  if (source_path.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "source_path is empty; give the absolute path of a project directory");
  }
  std::error_code ec;
  fs::path canonical = fs::canonical(source_path, ec);
  if (ec) {
    return make_error(ErrorCode::kNotFound, "source_path '" + source_path + "' does not exist or is not readable (" +
                                                ec.message() + ")");
  }
  if (!fs::is_directory(canonical, ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "source_path '" + source_path + "' is not a directory; give a project directory");
  }
  if (canonical == "/") {
    return make_error(ErrorCode::kPermissionDenied, "source_path '/' is refused: the whole filesystem cannot be a workspace");
  }
  if (auto s = system_directory(canonical.string())) {
    return make_error(ErrorCode::kPermissionDenied,
                      "source_path '" + source_path + "' is inside " + *s + ", which is never allowed as a source");
  }
  for (const auto& f : forbidden_) {
    if (is_within(canonical, f) || is_within(f, canonical)) {
      return make_error(ErrorCode::kPermissionDenied, "source_path '" + source_path +
                                                          "' overlaps the server's own state or workspaces (" + f +
                                                          "); copy the project elsewhere first");
    }
  }
  for (const auto& root : allowed_) {
    if (is_within(canonical, root)) return canonical.string();
  }
  std::string roots;
  for (const auto& r : allowed_) roots += (roots.empty() ? "" : ", ") + r;
  if (client_) return refuse_outside_client_roots(source_path, canonical.string(), roots);
  return make_error(ErrorCode::kPermissionDenied,
                    "source_path '" + source_path + "' (" + canonical.string() + ") is outside the allowed roots (" +
                        roots + "); move the project under one of them or add its parent to sandbox.allowed_source_roots");
}

Error SourcePathPolicy::refuse_outside_client_roots(const std::string& source_path, const std::string& canonical,
                                                    const std::string& allowed) const {
  const std::string what = "source_path '" + source_path + "' (" + canonical + ") is refused: ";
  if (!client_->error.empty()) {
    return make_error(ErrorCode::kPermissionDenied,
                      what + "the MCP client offers roots for this session, but they are not known (" +
                          client_->error + "); reconnect the client, and check that it answers roots/list");
  }
  std::string offered;
  for (const auto& r : client_->directories) offered += (offered.empty() ? "" : ", ") + r;
  if (offered.empty()) {
    return make_error(ErrorCode::kPermissionDenied,
                      what + "the MCP client offered no roots for this session, so no directory may become a "
                             "workspace; open the project's folder in the client (its open folders are the "
                             "roots it offers)");
  }
  if (allowed.empty()) {
    std::string configured;
    for (const auto& r : configured_roots_) configured += (configured.empty() ? "" : ", ") + r;
    return make_error(ErrorCode::kPermissionDenied,
                      what + "none of the roots the MCP client offered (" + offered +
                          ") lies under sandbox.allowed_source_roots (" + configured +
                          "); open a folder under those in the client, or ask the operator to add the "
                          "project's parent to sandbox.allowed_source_roots");
  }
  return make_error(ErrorCode::kPermissionDenied,
                    what + "it is outside the roots the MCP client offered for this session (" + allowed +
                        (configured_ ? ", within sandbox.allowed_source_roots" : "") +
                        "); open the project's folder in the client, or use a path beneath one of these");
}

}  // namespace isb
