// call_pool.hpp: the bounded worker threads that run tools/call for MCP
// sessions, in two lanes so that long calls cannot starve cheap ones.
//
//   CallPool pool({.quick_workers = 2, .long_workers = 16, .max_queued = 1024});
//   if (!pool.submit(CallPool::Lane::kQuick, [=] { run_call(); })) reply_busy();
//
// Lanes: kQuick runs read-only, idempotent tools (lookups that finish in
// micro- to milliseconds); kLong runs everything else (commands, plans,
// workspace creation), which mostly waits on a sandbox. Each lane has its own
// threads and queue, so a full long lane never delays a quick call. Threads
// start on demand up to the lane's bound and then stay until the pool dies:
// a steady load pays for no thread creation.
//
// Threading: submit() is thread-safe. The destructor runs every task already
// queued, then joins the threads; owners must stop submitting first.
// Ownership: tasks are moved into the pool and destroyed on a worker thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace isb::mcp {

class CallPool {
 public:
  enum class Lane { kQuick = 0, kLong = 1 };

  struct Options {
    size_t quick_workers = 0;  //!< 0: the number of cores (at least 2)
    size_t long_workers = 16;  //!< calls of the long lane running at once
    size_t max_queued = 4096;  //!< per lane: tasks waiting for a thread; more are refused
  };

  explicit CallPool(Options options);
  ~CallPool();
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  //! Queues task on lane; false (task dropped) when that lane's queue is full.
  [[nodiscard]] bool submit(Lane lane, std::function<void()> task);

  //! Threads the lane may run at once.
  size_t workers(Lane lane) const { return lanes_[static_cast<int>(lane)].max_workers; }

 private:
  struct LaneState {
    size_t max_workers = 1;
    size_t max_queued = 1;
    std::condition_variable ready;
    std::deque<std::function<void()>> queue;
    std::vector<std::thread> threads;
    size_t idle = 0;
  };
  void work(LaneState& lane);

  std::mutex mu_;
  bool stopping_ = false;
  LaneState lanes_[2];
};

}  // namespace isb::mcp
