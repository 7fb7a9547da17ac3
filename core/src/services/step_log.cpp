// step_log.cpp: capped log file plus in-memory tail.
// host paths only: the step log files under the server's state directory; nothing here names a path inside a workspace.
#include "services/step_log.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace isb::services {

StepLog::StepLog(std::string path, int64_t file_cap, size_t tail_cap)
    : path_(std::move(path)), file_cap_(file_cap), tail_cap_(tail_cap) {
  reset();
}

StepLog::~StepLog() {
  if (f_) std::fclose(f_);
}

void StepLog::reset() {
  if (f_) std::fclose(f_);
  f_ = nullptr;
  tail_.clear();
  total_ = written_ = 0;
  truncated_ = false;
  error_.clear();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  f_ = std::fopen(path_.c_str(), "wb");
  if (!f_) error_ = "cannot write " + path_ + ": " + std::strerror(errno);
}

void StepLog::append(const char* bytes, size_t len) {
  total_ += static_cast<int64_t>(len);
  if (f_) {
    size_t room = written_ < file_cap_ ? static_cast<size_t>(file_cap_ - written_) : 0;
    size_t take = std::min(room, len);
    if (take < len) truncated_ = true;
    if (take && std::fwrite(bytes, 1, take, f_) != take) error_ = "writing " + path_ + " failed";
    written_ += static_cast<int64_t>(take);
  }
  // The tail keeps the last tail_cap_ bytes: the end says why a command failed.
  if (len >= tail_cap_) {
    tail_.assign(bytes + len - tail_cap_, tail_cap_);
  } else {
    if (tail_.size() + len > tail_cap_) tail_.erase(0, tail_.size() + len - tail_cap_);
    tail_.append(bytes, len);
  }
}

void StepLog::finish(bool backend_truncated) {
  if (!f_) return;
  if (truncated_ || backend_truncated) {
    truncated_ = true;
    std::string note = "\n[intelligent-sandbox: output truncated at " + std::to_string(written_) +
                       " bytes (performance.max_output_bytes); the rest was discarded]\n";
    std::fwrite(note.data(), 1, note.size(), f_);
  }
  std::fclose(f_);
  f_ = nullptr;
}

}  // namespace isb::services
