// periodic_task.hpp: a thread that runs one function every interval (the
// metrics summary, the cache sweep) until it is destroyed.
//
//   PeriodicTask sweep("cache sweep", std::chrono::seconds(600), [&] { cache.sweep(); });
//
// Ownership and threading: fn runs on the task's own thread only, first one
// interval after construction; the destructor wakes the thread, waits for a
// run in progress and joins, so whatever fn uses must outlive the task.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace isb {

class PeriodicTask {
 public:
  PeriodicTask(std::chrono::seconds interval, std::function<void()> fn)
      : thread_([this, interval, fn = std::move(fn)] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
            lock.unlock();
            fn();
            lock.lock();
          }
        }) {}
  ~PeriodicTask() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace isb
