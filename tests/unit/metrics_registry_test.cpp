// metrics_registry_test.cpp: the operation metrics of
// performance.monitoring_enabled: counts, errors by code, latency percentiles
// from the histogram, gauges, and the log summary line.
#include "metrics/metrics_registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

namespace isb::metrics {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(MetricsRegistryTest, CountsCallsAndErrorsPerOperation) {
  MetricsRegistry m;
  Error denied{ErrorCode::kPermissionDenied, "no"};
  m.observe_operation("exec_command", milliseconds(3), nullptr);
  m.observe_operation("exec_command", milliseconds(4), &denied);
  m.observe_operation("get_sandbox_status", milliseconds(1), nullptr);
  auto ops = m.operations();
  EXPECT_EQ(ops.at("exec_command").calls, 2u);
  EXPECT_EQ(ops.at("exec_command").errors, 1u);
  EXPECT_EQ(ops.at("exec_command").errors_by_code.at("permission_denied"), 1u);
  EXPECT_EQ(ops.at("get_sandbox_status").errors, 0u);
}

TEST(MetricsRegistryTest, PercentilesComeFromTheBucketsAndNeverPassTheMaximum) {
  MetricsRegistry m;
  // 90 calls of 7 ms (bucket 5-10), 9 of 70 ms (50-100), one of 2 s (1000-2500).
  for (int i = 0; i < 90; ++i) m.observe_operation("op", milliseconds(7), nullptr);
  for (int i = 0; i < 9; ++i) m.observe_operation("op", milliseconds(70), nullptr);
  m.observe_operation("op", milliseconds(2000), nullptr);
  const OperationFigures f = m.operations().at("op");
  EXPECT_GT(f.quantile_ms(0.5), 5.0);
  EXPECT_LE(f.quantile_ms(0.5), 10.0);
  EXPECT_GT(f.quantile_ms(0.95), 50.0);
  EXPECT_LE(f.quantile_ms(0.95), 100.0);
  EXPECT_DOUBLE_EQ(f.quantile_ms(1.0), 2000.0);
  EXPECT_DOUBLE_EQ(f.max_ms, 2000.0);
  EXPECT_DOUBLE_EQ(OperationFigures{}.quantile_ms(0.5), 0.0);

  // Beyond the last bound (10 min) the bucket ends at the largest call seen.
  MetricsRegistry slow;
  slow.observe_operation("op", std::chrono::minutes(15), nullptr);
  EXPECT_GT(slow.operations().at("op").quantile_ms(0.99), 600000.0);
  EXPECT_DOUBLE_EQ(slow.operations().at("op").quantile_ms(1.0), 15 * 60 * 1000.0);
}

TEST(MetricsRegistryTest, JsonAndSummaryLineCarryGaugesAndOperations) {
  MetricsRegistry m;
  m.add_gauge("workspaces_active", [] { return 2.0; });
  m.add_gauge("process_rss_bytes", [] { return 3.0 * 1024 * 1024; });
  EXPECT_THAT(m.summary_line(), HasSubstr("no operation called yet"));
  m.observe_operation("create_workspace", milliseconds(30), nullptr);
  m.observe_operation("get_sandbox_status", milliseconds(1), nullptr);
  m.observe_operation("get_sandbox_status", milliseconds(1), nullptr);
  const std::string line = m.summary_line();
  EXPECT_THAT(line, HasSubstr("workspaces_active=2"));
  EXPECT_THAT(line, HasSubstr("process_rss=3.0MiB"));
  EXPECT_LT(line.find("get_sandbox_status calls=2"), line.find("create_workspace calls=1"))
      << "busiest first";

  boost::json::object j = m.to_json();
  EXPECT_EQ(j.at("gauges").at("workspaces_active").as_double(), 2.0);
  const auto& op = j.at("operations").at("create_workspace").as_object();
  EXPECT_EQ(op.at("calls").as_uint64(), 1u);
  EXPECT_TRUE(op.at("latency_ms").as_object().contains("p99"));
  EXPECT_TRUE(j.contains("since"));
}

TEST(MetricsRegistryTest, ProcessRssIsReadFromProc) { EXPECT_GT(process_rss_bytes(), 1024.0 * 1024.0); }

}  // namespace
}  // namespace isb::metrics
