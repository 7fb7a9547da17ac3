// metrics_registry.cpp: operation figures, gauges, and their renderings.
// host paths only: /proc/self/statm, the server's own memory figures.
#include "metrics/metrics_registry.hpp"

#include "time/utc_time.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace isb::metrics {
namespace {

double round2(double v) { return std::round(v * 100) / 100; }

std::string format_ms(double ms) {
  char buf[32];
  if (ms >= 1000)
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.1fms", ms);
  return buf;
}

}  // namespace

double OperationFigures::quantile_ms(double q) const {
  if (calls == 0) return 0;
  const double rank = q * static_cast<double>(calls);
  double seen = 0;
  for (size_t b = 0; b < kBucketCount; ++b) {
    if (buckets[b] == 0) continue;
    const double next = seen + static_cast<double>(buckets[b]);
    if (next >= rank) {
      const double lower = b == 0 ? 0 : kLatencyBucketsMs[b - 1];
      const double upper = b < std::size(kLatencyBucketsMs) ? kLatencyBucketsMs[b] : max_ms;
      const double estimate = lower + (upper - lower) * (rank - seen) / static_cast<double>(buckets[b]);
      return std::min(estimate, max_ms);
    }
    seen = next;
  }
  return max_ms;
}

void MetricsRegistry::observe_operation(const std::string& name, std::chrono::nanoseconds took,
                                        const Error* error) {
  const double ms = std::chrono::duration<double, std::milli>(took).count();
  size_t bucket = 0;
  while (bucket < std::size(kLatencyBucketsMs) && ms > kLatencyBucketsMs[bucket]) ++bucket;
  std::lock_guard<std::mutex> lock(mu_);
  OperationFigures& f = operations_[name];
  ++f.calls;
  if (error) {
    ++f.errors;
    ++f.errors_by_code[error_code_name(error->code)];
  }
  ++f.buckets[bucket];
  f.sum_ms += ms;
  f.max_ms = std::max(f.max_ms, ms);
}

void MetricsRegistry::add_gauge(std::string name, std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.emplace_back(std::move(name), std::move(fn));
}

std::map<std::string, OperationFigures> MetricsRegistry::operations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return operations_;
}

std::map<std::string, double> MetricsRegistry::gauges() const {
  std::vector<std::pair<std::string, std::function<double()>>> fns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fns = gauges_;
  }
  std::map<std::string, double> out;
  for (const auto& [name, fn] : fns) out[name] = fn();
  return out;
}

boost::json::object MetricsRegistry::to_json() const {
  boost::json::object ops;
  for (const auto& [name, f] : operations()) {
    boost::json::object by_code;
    for (const auto& [code, n] : f.errors_by_code) by_code[code] = n;
    ops[name] = boost::json::object{
        {"calls", f.calls},
        {"errors", f.errors},
        {"errors_by_code", std::move(by_code)},
        {"latency_ms",
         boost::json::object{{"p50", round2(f.quantile_ms(0.5))},
                             {"p90", round2(f.quantile_ms(0.9))},
                             {"p99", round2(f.quantile_ms(0.99))},
                             {"max", round2(f.max_ms)},
                             {"mean", round2(f.calls ? f.sum_ms / static_cast<double>(f.calls) : 0)}}}};
  }
  boost::json::object g;
  for (const auto& [name, v] : gauges()) g[name] = v;
  return boost::json::object{{"since", iso8601_utc(since_)}, {"operations", std::move(ops)}, {"gauges", std::move(g)}};
}

std::string MetricsRegistry::summary_line() const {
  std::string line = "metrics:";
  for (const auto& [name, v] : gauges()) {
    char buf[96];
    if (name.ends_with("_bytes"))
      std::snprintf(buf, sizeof buf, " %s=%.1fMiB", name.substr(0, name.size() - 6).c_str(),
                    v / (1024.0 * 1024.0));
    else
      std::snprintf(buf, sizeof buf, " %s=%.0f", name.c_str(), v);
    line += buf;
  }
  auto ops = operations();
  std::vector<std::pair<std::string, OperationFigures>> sorted(ops.begin(), ops.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.calls > b.second.calls; });
  if (sorted.empty()) line += "; no operation called yet";
  for (const auto& [name, f] : sorted) {
    line += "; " + name + " calls=" + std::to_string(f.calls) + " errors=" + std::to_string(f.errors) +
            " p50=" + format_ms(f.quantile_ms(0.5)) + " p99=" + format_ms(f.quantile_ms(0.99));
  }
  return line;
}

double process_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace isb::metrics
