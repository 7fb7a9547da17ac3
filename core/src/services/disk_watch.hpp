// disk_watch.hpp: resource_limits.disk_mb while a step runs, where no disk
// image holds it: a thread measures the workspace's usage now and then and
// says when it is over the limit, so that the executor can stop the step.
//
//   DiskWatch watch([&] { return workspaces.disk_usage(w); }, limit_bytes);
//   backend.exec(..., /*cancelled=*/[&] { return watch.exceeded(); });
//
// Measuring walks the tree, so the pause between two measurements is at
// least kCostFactor times the last walk's duration (and at least
// kMinIntervalMs): the watch costs at most about 1/20 of a core.
//
// Threading: owns its thread (none when the limit is 0); exceeded() and
// used_bytes() may be read from any thread; the destructor stops and joins
// the thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <isb/core/workspace_service.hpp>
#include <mutex>
#include <thread>

namespace isb::services {

//! Watches one workspace's disk use against one limit while a step runs.
class DiskWatch {
 public:
  //! limit_bytes 0: no limit, no thread.
  DiskWatch(std::function<Result<WorkspaceService::DiskUsage>()> measure, int64_t limit_bytes);
  ~DiskWatch();
  DiskWatch(const DiskWatch&) = delete;
  DiskWatch& operator=(const DiskWatch&) = delete;
  //! A measurement found the workspace over its limit (the watch then stops).
  bool exceeded() const { return exceeded_.load(); }
  //! The last measurement.
  int64_t used_bytes() const { return used_.load(); }

 private:
  //! The shortest pause between two measurements.
  static constexpr int64_t kMinIntervalMs = 500;
  //! The pause is at least this many times the last measurement's duration.
  static constexpr int64_t kCostFactor = 20;

  void loop();

  std::function<Result<WorkspaceService::DiskUsage>()> measure_;
  const int64_t limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> exceeded_{false};
  std::atomic<int64_t> used_{0};
  std::thread thread_;
};

}  // namespace isb::services
