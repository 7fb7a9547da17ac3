// metrics_registry.hpp: what the server measures about itself
// (performance.monitoring_enabled): per operation its calls, errors and a
// latency histogram; and gauges read when asked (workspaces, executions,
// the process's resident memory).
//
// The figures are cumulative since start, and latencies are kept in fixed
// buckets, the shape a Prometheus histogram has, so that an exporter can
// serve them as they are; percentiles are estimated from the buckets.
//
//   MetricsRegistry m;
//   m.add_gauge("workspaces_active", [&] { return double(store.count_active_workspaces().value_or(0)); });
//   registry.set_observer([&](auto& name, auto took, auto* err) { m.observe_operation(name, took, err); });
//   spdlog::info("{}", m.summary_line());     // every performance.metrics_interval
//   status["metrics"] = m.to_json();          // get_sandbox_status
//
// Thread-safety: every member is safe from any thread. Gauge functions run on
// the thread that asks for a snapshot, outside the registry's lock.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <isb/core/result.hpp>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace isb::metrics {

//! Upper bounds of the latency buckets in milliseconds (the last bucket,
//! above the final bound, is unbounded).
inline constexpr double kLatencyBucketsMs[] = {1,    2,    5,    10,    25,    50,    100,    250,    500,
                                               1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000};
inline constexpr size_t kBucketCount = std::size(kLatencyBucketsMs) + 1;

//! Calls of one operation.
struct OperationFigures {
  uint64_t calls = 0;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errors_by_code;  // error_code_name -> count
  uint64_t buckets[kBucketCount] = {};             // calls per latency bucket (not cumulative)
  double sum_ms = 0;
  double max_ms = 0;

  //! The q-quantile (0 < q <= 1) of the latencies, interpolated within its
  //! bucket and never above the largest one seen; 0 without calls.
  double quantile_ms(double q) const;
};

class MetricsRegistry {
 public:
  //! Records one call; error is nullptr when it succeeded.
  void observe_operation(const std::string& name, std::chrono::nanoseconds took, const Error* error);

  //! A value read at snapshot time; fn must be cheap and thread-safe.
  void add_gauge(std::string name, std::function<double()> fn);

  //! {"since","operations":{name:{"calls","errors","errors_by_code","latency_ms":{"p50","p90","p99","max","mean"}}},
  //!  "gauges":{name:value}}
  boost::json::object to_json() const;

  //! One log line: the gauges, then each operation called since start with
  //! its calls, errors and p50/p99, busiest first.
  std::string summary_line() const;

  //! The operations' figures (a copy), for tests and exporters.
  std::map<std::string, OperationFigures> operations() const;
  //! The gauges' current values.
  std::map<std::string, double> gauges() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, OperationFigures> operations_;
  std::vector<std::pair<std::string, std::function<double()>>> gauges_;
  std::chrono::system_clock::time_point since_ = std::chrono::system_clock::now();
};

//! Resident set size of this process in bytes (/proc/self/statm); 0 when unknown.
double process_rss_bytes();

}  // namespace isb::metrics
