// audit_log.cpp: JSONL lines appended with one write(2) each.
#include "security/audit_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

namespace isb::security {
namespace {

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kInvalidConfig,
                      "security.audit_log_path: cannot open '" + path +
                          "' for appending: " + std::strerror(errno) +
                          "; choose a writable path or set security.audit_logging: false");
  }
  return std::unique_ptr<AuditLog>(new AuditLog(path, fd));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

bool AuditLog::record(const AuditRecord& r) {
  boost::json::object o{{"time", utc_now()},        {"principal", r.principal},
                        {"transport", r.transport}, {"client_id", r.client_id},
                        {"operation", r.operation}, {"args_sha256", r.args_sha256},
                        {"outcome", r.outcome},     {"duration_ms", r.duration_ms}};
  std::string line = boost::json::serialize(o);
  line.push_back('\n');
  ssize_t w;
  do {
    w = ::write(fd_, line.data(), line.size());
  } while (w < 0 && errno == EINTR);
  return w == static_cast<ssize_t>(line.size());
}

}  // namespace isb::security
