// audit_log.cpp: JSONL lines appended with one write(2) each; size-based rotation.
// host paths only: the server's audit log; nothing here names a path inside a workspace.
#include "security/audit_log.hpp"

#include "time/utc_time.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

namespace isb::security {
int AuditLog::open_fd(const std::string& path, uint64_t* size, std::string* error) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  struct stat st {};
  *size = fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return fd;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path, AuditRotation rotation) {
  uint64_t size = 0;
  std::string error;
  int fd = open_fd(path, &size, &error);
  if (fd < 0) {
    return make_error(ErrorCode::kInvalidConfig,
                      "security.audit_log_path: cannot open '" + path + "' for appending: " + error +
                          "; choose a writable path or set security.audit_logging: false");
  }
  return std::unique_ptr<AuditLog>(new AuditLog(path, rotation, fd, size));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status AuditLog::reopen() {
  uint64_t size = 0;
  std::string error;
  int fd = open_fd(path_, &size, &error);
  if (fd < 0) {
    return make_error(ErrorCode::kUnavailable, "cannot reopen the audit log '" + path_ + "': " + error +
                                                   "; lines still go to the file that was open before");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ::close(fd_);
  fd_ = fd;
  size_ = size;
  return ok_status();
}

void AuditLog::rotate_locked(uint64_t incoming) {
  // Another process (or a logrotate) may have changed the file since it was
  // opened: decide on its real size.
  struct stat st {};
  if (fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0 || size_ + incoming <= rotation_.max_bytes) return;
  if (rotation_.backup_count > 0) {
    auto name = [this](int64_t i) { return path_ + "." + std::to_string(i); };
    // The oldest generation falls off; a rename onto it replaces it.
    for (int64_t i = rotation_.backup_count - 1; i >= 1; --i)
      std::rename(name(i).c_str(), name(i + 1).c_str());
    if (std::rename(path_.c_str(), name(1).c_str()) != 0) {
      // Keep appending to the big file rather than lose lines.
      spdlog::error("cannot rotate the audit log {}: {}; it keeps growing until this is fixed", path_,
                    std::strerror(errno));
      return;
    }
  } else if (ftruncate(fd_, 0) == 0) {
    size_ = 0;
    return;
  }
  uint64_t size = 0;
  std::string error;
  int fd = open_fd(path_, &size, &error);
  if (fd < 0) {
    spdlog::error("cannot start a new audit log {} after rotating it: {}; lines go to {}.1", path_, error,
                  path_);
    return;
  }
  ::close(fd_);
  fd_ = fd;
  size_ = size;
}

bool AuditLog::record(const AuditRecord& r) {
  auto when = r.time == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now() : r.time;
  boost::json::object o{{"time", iso8601_utc(when, Iso8601::kMilliseconds)},
                        {"principal", r.principal},
                        {"transport", r.transport},
                        {"client_id", r.client_id}};
  if (!r.client_address.empty()) o["client_address"] = r.client_address;
  o["operation"] = r.operation;
  o["args_sha256"] = r.args_sha256;
  o["outcome"] = r.outcome;
  o["duration_ms"] = r.duration_ms;
  if (r.suppressed > 0) o["suppressed"] = r.suppressed;
  std::string line = boost::json::serialize(o);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  if (rotation_.max_bytes > 0 && size_ > 0 && size_ + line.size() > rotation_.max_bytes)
    rotate_locked(line.size());
  ssize_t w;
  do {
    w = ::write(fd_, line.data(), line.size());
  } while (w < 0 && errno == EINTR);
  if (w > 0) size_ += static_cast<uint64_t>(w);
  return w == static_cast<ssize_t>(line.size());
}

}  // namespace isb::security
