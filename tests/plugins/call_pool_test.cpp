// call_pool_test.cpp: the MCP transports' worker pool
// (plugins/transports/mcp-common/call_pool.hpp): tasks run, a busy long lane
// never delays a quick call, a full queue refuses, threads stay within the
// lane's bound, and destruction runs what was queued.
#include "call_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

using isb::mcp::CallPool;
using namespace std::chrono_literals;

namespace {

// A gate tasks wait at until the test opens it.
class Latch {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(CallPool, RunsEverySubmittedTask) {
  std::atomic<int> ran{0};
  {
    CallPool pool({.quick_workers = 2, .long_workers = 2, .max_queued = 100});
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(pool.submit(i % 2 ? CallPool::Lane::kQuick : CallPool::Lane::kLong, [&] { ++ran; }));
    }
  }  // the destructor runs what is queued, then joins
  EXPECT_EQ(ran.load(), 50);
}

TEST(CallPool, AQuickCallRunsWhileEveryLongWorkerIsBusy) {
  Latch release;
  CallPool pool({.quick_workers = 1, .long_workers = 2, .max_queued = 10});
  std::atomic<int> long_started{0};
  for (int i = 0; i < 4; ++i) {  // two run and block, two wait in the long queue
    ASSERT_TRUE(pool.submit(CallPool::Lane::kLong, [&] {
      ++long_started;
      release.wait();
    }));
  }
  for (int i = 0; i < 500 && long_started.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(long_started.load(), 2) << "both long workers should be busy now";
  std::promise<void> quick_ran;
  ASSERT_TRUE(pool.submit(CallPool::Lane::kQuick, [&] { quick_ran.set_value(); }));
  EXPECT_EQ(quick_ran.get_future().wait_for(5s), std::future_status::ready)
      << "the quick lane waited for the long one";
  EXPECT_EQ(long_started.load(), 2) << "the long lane ran more tasks at once than its bound";
  release.open();
}

TEST(CallPool, AFullLaneRefusesAndTheOtherLaneStillTakesWork) {
  Latch release;
  CallPool pool({.quick_workers = 1, .long_workers = 1, .max_queued = 2});
  std::promise<void> running;
  ASSERT_TRUE(pool.submit(CallPool::Lane::kLong, [&] {
    running.set_value();
    release.wait();
  }));
  ASSERT_EQ(running.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(pool.submit(CallPool::Lane::kLong, [] {}));
  EXPECT_TRUE(pool.submit(CallPool::Lane::kLong, [] {}));
  EXPECT_FALSE(pool.submit(CallPool::Lane::kLong, [] {})) << "a third queued task is over max_queued";
  EXPECT_TRUE(pool.submit(CallPool::Lane::kQuick, [] {})) << "each lane has its own queue";
  release.open();
}

TEST(CallPool, ZeroQuickWorkersMeansTheCoresAndAtLeastTwo) {
  CallPool pool({.quick_workers = 0, .long_workers = 3});
  EXPECT_GE(pool.workers(CallPool::Lane::kQuick), 2u);
  EXPECT_EQ(pool.workers(CallPool::Lane::kLong), 3u);
}

TEST(CallPool, TasksAreDestroyedOnAWorkerAfterTheyRan) {
  auto token = std::make_shared<int>(7);
  std::weak_ptr<int> watch = token;
  {
    CallPool pool({.quick_workers = 1, .long_workers = 1});
    ASSERT_TRUE(pool.submit(CallPool::Lane::kQuick, [t = std::move(token)] { EXPECT_EQ(*t, 7); }));
  }
  EXPECT_TRUE(watch.expired()) << "the pool kept a task (and what it captured) after it ran";
}

}  // namespace
