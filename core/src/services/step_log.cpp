// step_log.cpp: capped log file plus in-memory tail.
// host paths only: the step log files under the server's state directory; nothing here names a path inside a workspace.
#include "services/step_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace isb::services {

std::string sanitize_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

size_t incomplete_utf8_suffix(const std::string& buf) {
  for (size_t back = 1; back <= 3 && back <= buf.size(); ++back) {
    unsigned char c = static_cast<unsigned char>(buf[buf.size() - back]);
    if ((c >> 6) == 0x2) continue;  // continuation byte: keep looking for the lead
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return len > back ? back : 0;
  }
  return 0;
}

Result<workspaces::UniqueFd> open_step_log(const std::string& logs_dir, const std::string& execution_id,
                                           const std::string& step_id, const std::string& stream) {
  auto logs = workspaces::BeneathRoot::open(logs_dir);
  if (!logs) return logs.error();
  auto dir = logs->sub(execution_id, false);
  if (!dir) return dir.error();
  return dir->open_at(step_id + "." + stream + ".log", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
}

LogSince read_log_since(int fd, int64_t offset, size_t cap) {
  LogSince out;
  struct stat st {};
  if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    out.next_offset = offset;
    return out;
  }
  const int64_t size = static_cast<int64_t>(st.st_size);
  if (offset > size || offset < 0) offset = 0;
  int64_t start = std::max(offset, size - static_cast<int64_t>(cap));
  std::string data(static_cast<size_t>(size - start), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  // A character cut at the end is read whole next time; one cut at the start
  // (only when bytes were left out) is dropped with them.
  data.resize(data.size() - incomplete_utf8_suffix(data));
  size_t lead = 0;
  if (start > offset) {
    while (lead < data.size() && lead < 3 && (static_cast<unsigned char>(data[lead]) >> 6) == 0x2) ++lead;
  }
  out.skipped = start + static_cast<int64_t>(lead) - offset;
  out.next_offset = start + static_cast<int64_t>(data.size());
  out.text = sanitize_utf8(data.substr(lead));
  return out;
}

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
    if (take && (std::fwrite(bytes, 1, take, f_) != take || std::fflush(f_) != 0)) {
      error_ = "writing " + path_ + " failed";
    }
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
