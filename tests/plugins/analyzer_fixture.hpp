// analyzer_fixture.hpp: the GoogleTest fixture the analyzer plugin tests share:
// one instance of the analyzer under test, created from "{}" before each test
// and destroyed after it, and analyze() calls across the C ABI as the host
// makes them (analyze_tree with the tree's root as a directory fd).
//
//   class CiTest : public AnalyzerTest {
//    protected:
//     CiTest() : AnalyzerTest("libisb-analyzer-ci.so") {}
//   };
//   TEST_F(CiTest, ...) { TempTree t; ...; json::object doc = analyze(t); }
#pragma once

#include <gtest/gtest.h>
#include <isb/plugin_abi.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <utility>

#include "plugin_loader.hpp"
#include "temp_tree.hpp"

//! Owns the loaded plugin and its default instance inst_; a test that creates
//! more instances destroys them itself.
class AnalyzerTest : public ::testing::Test {
 protected:
  explicit AnalyzerTest(std::string plugin_file) : plugin_file_(std::move(plugin_file)) {}

  void SetUp() override {
    plugin_ = std::make_unique<TestPlugin>(plugin_file_);
    inst_ = plugin_->create("{}");
    ASSERT_NE(inst_, nullptr);
  }
  void TearDown() override {
    if (inst_) plugin_->descriptor()->destroy(inst_);
  }

  //! The raw status and document of analyze_tree(root opened as a directory fd, opts) on inst.
  std::pair<isb_status, std::string> call(isb_instance* inst, const std::string& root,
                                          const std::string& opts = "{}") {
    return plugin_->analyze(inst, root, opts);
  }

  //! The facts document for root (on inst, else inst_); a failed call fails
  //! the test with the plugin's error and yields an empty object.
  boost::json::object analyze(const std::string& root, isb_instance* inst = nullptr,
                              const std::string& opts = "{}") {
    auto [status, doc] = call(inst ? inst : inst_, root, opts);
    EXPECT_EQ(status, ISB_OK) << plugin_->descriptor()->last_error(inst ? inst : inst_);
    if (status != ISB_OK) return {};
    return boost::json::parse(doc).as_object();
  }
  boost::json::object analyze(const TempTree& t, isb_instance* inst = nullptr,
                              const std::string& opts = "{}") {
    return analyze(t.path(), inst, opts);
  }

  std::unique_ptr<TestPlugin> plugin_;
  isb_instance* inst_ = nullptr;

 private:
  std::string plugin_file_;
};
