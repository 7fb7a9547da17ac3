// disk_watch.cpp: the measuring thread of a DiskWatch.
#include "services/disk_watch.hpp"

#include <algorithm>
#include <chrono>

namespace isb::services {

DiskWatch::DiskWatch(std::function<Result<WorkspaceService::DiskUsage>()> measure, int64_t limit_bytes)
    : measure_(std::move(measure)), limit_(limit_bytes) {
  if (limit_ > 0) thread_ = std::thread([this] { loop(); });
}

DiskWatch::~DiskWatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DiskWatch::loop() {
  int64_t interval = kMinIntervalMs;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(interval), [this] { return stop_; })) {
    lock.unlock();
    const int64_t start = now_ms();
    auto used = measure_();
    const int64_t took = now_ms() - start;
    lock.lock();
    if (used) {
      used_ = used->used_bytes;
      if (used->over()) {
        exceeded_ = true;
        return;
      }
    }
    interval = std::max(kMinIntervalMs, kCostFactor * took);
  }
}

}  // namespace isb::services
