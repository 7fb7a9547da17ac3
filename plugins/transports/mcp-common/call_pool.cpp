// call_pool.cpp: two lanes of on-demand worker threads with bounded queues.
#include "call_pool.hpp"

#include <algorithm>

namespace isb::mcp {

CallPool::CallPool(Options options) {
  size_t quick = options.quick_workers;
  if (quick == 0) quick = std::max<size_t>(2, std::thread::hardware_concurrency());
  lanes_[0].max_workers = quick;
  lanes_[1].max_workers = std::max<size_t>(1, options.long_workers);
  for (auto& lane : lanes_) lane.max_queued = std::max<size_t>(1, options.max_queued);
}

CallPool::~CallPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  for (auto& lane : lanes_) lane.ready.notify_all();
  for (auto& lane : lanes_) {
    for (auto& t : lane.threads) t.join();
  }
}

bool CallPool::submit(Lane which, std::function<void()> task) {
  LaneState& lane = lanes_[static_cast<int>(which)];
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || lane.queue.size() >= lane.max_queued) return false;
  lane.queue.push_back(std::move(task));
  // A new thread only when nobody idle will pick the task up: under a steady
  // load the lane settles at the threads it needs and never recreates them.
  if (lane.idle < lane.queue.size() && lane.threads.size() < lane.max_workers) {
    lane.threads.emplace_back(&CallPool::work, this, std::ref(lane));
  } else {
    lock.unlock();
    lane.ready.notify_one();
  }
  return true;
}

void CallPool::work(LaneState& lane) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++lane.idle;
    lane.ready.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
    --lane.idle;
    if (lane.queue.empty()) return;  // stopping, and everything queued has run
    std::function<void()> task = std::move(lane.queue.front());
    lane.queue.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // destroy captures before taking the lock again
    lock.lock();
  }
}

}  // namespace isb::mcp
