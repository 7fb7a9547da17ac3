// mcp_client_roots_test.cpp: the MCP transports' side of client roots
// (plugins/transports/mcp-common/client_roots.hpp): file:// URIs, the
// roots/list exchange, answers that a newer request superseded, clients that
// answer with an error or not at all, and entries that are no directories.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_roots.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using isb::mcp::ClientRoots;
using isb::mcp::path_from_file_uri;
using ::testing::HasSubstr;

namespace {

TEST(PathFromFileUri, DecodesLocalAbsolutePaths) {
  EXPECT_EQ(path_from_file_uri("file:///home/ann/my%20project"), "/home/ann/my project");
  EXPECT_EQ(path_from_file_uri("file://localhost/srv/x"), "/srv/x");
  EXPECT_EQ(path_from_file_uri("FILE:///srv/x"), "/srv/x");
  EXPECT_EQ(path_from_file_uri("file:///%E6%97%A5%E6%9C%AC"), "/\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST(PathFromFileUri, RefusesWhatIsNoLocalPath) {
  for (const char* uri : {"https://example.com/x", "file://otherhost/x", "file:relative/x", "file://", "file:///x?q=1",
                          "file:///x#frag", "file:///x%00y", "file:///x%2", "file:///x%zz", "/plain/path"}) {
    EXPECT_EQ(path_from_file_uri(uri), std::nullopt) << uri;
  }
}

// A host API whose log lines the test can read.
struct LogCapture {
  static void log(void* ctx, int32_t, const char* message) {
    auto* self = static_cast<LogCapture*>(ctx);
    std::lock_guard<std::mutex> lock(self->mu);
    self->lines.emplace_back(message);
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

class ClientRootsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/isb-roots-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ + "/project");
    fs::create_directories(dir_ + "/other");
    std::ofstream(dir_ + "/file.txt") << "not a directory";
    api_.struct_size = sizeof api_;
    api_.host_ctx = &logs_;
    api_.log = &LogCapture::log;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ClientRoots> make(std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    return std::make_unique<ClientRoots>(
        isb::sdk::Host(&api_), "test session",
        [this](const json::object& request) {
          std::lock_guard<std::mutex> lock(mu_);
          sent_.push_back(request);
        },
        bound);
  }
  std::vector<json::object> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  static json::object answer(const std::string& id, std::vector<std::string> uris) {
    json::array roots;
    for (const auto& u : uris) roots.push_back(json::object{{"uri", u}, {"name", "n"}});
    return json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", json::object{{"roots", roots}}}};
  }
  static json::object doc(const std::string& text) { return json::parse(text).as_object(); }

  std::string dir_;
  LogCapture logs_;
  isb_host_api api_{};
  std::mutex mu_;
  std::vector<json::object> sent_;
};

TEST_F(ClientRootsTest, AClientWithoutTheCapabilityIsNeverAskedAndCallsCarryNothing) {
  auto roots = make();
  roots->request();
  EXPECT_EQ(roots->for_call(), "");
  EXPECT_TRUE(sent().empty());
}

TEST_F(ClientRootsTest, AsksAndCarriesTheDirectoriesIgnoringWhatIsNoDirectoryWithALogLine) {
  auto roots = make();
  roots->set_offered(true);
  roots->request();
  ASSERT_EQ(sent().size(), 1u);
  EXPECT_EQ(sent()[0].at("method"), "roots/list");
  EXPECT_EQ(sent()[0].at("jsonrpc"), "2.0");
  const std::string id(sent()[0].at("id").as_string());
  // A call made now waits for the answer.
  auto call = std::async(std::launch::async, [&] { return roots->for_call(); });
  EXPECT_EQ(call.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_TRUE(roots->on_response(answer(id, {"file://" + dir_ + "/project", "file://" + dir_ + "/file.txt",
                                             "https://example.com/repo", "file://" + dir_ + "/missing"})));
  json::object d = doc(call.get());
  EXPECT_EQ(json::serialize(d.at("roots")), json::serialize(json::array{json::value(dir_ + "/project")}));
  EXPECT_FALSE(d.contains("error"));
  const std::string log = logs_.all();
  EXPECT_THAT(log, HasSubstr("client root file://" + dir_ + "/file.txt ignored: " + dir_ +
                             "/file.txt is not a directory"));
  EXPECT_THAT(log, HasSubstr("client root https://example.com/repo ignored: not a file:// URI"));
  EXPECT_THAT(log, HasSubstr(dir_ + "/missing is not a directory"));
  EXPECT_THAT(log, HasSubstr("the client's roots are the allowed sources: " + dir_ + "/project"));
  // Later calls do not wait.
  EXPECT_EQ(doc(roots->for_call()).at("roots").as_array().size(), 1u);
}

TEST_F(ClientRootsTest, ListChangedAsksAgainAndAnAnswerToTheOlderRequestIsIgnored) {
  auto roots = make();
  roots->set_offered(true);
  roots->request();
  roots->on_response(answer("isb-roots-1", {"file://" + dir_ + "/project"}));
  roots->request();  // notifications/roots/list_changed
  ASSERT_EQ(sent().size(), 2u);
  EXPECT_EQ(sent()[1].at("id"), "isb-roots-2");
  // A late answer to the first request is consumed but changes nothing.
  EXPECT_TRUE(roots->on_response(answer("isb-roots-1", {"file://" + dir_ + "/other"})));
  auto call = std::async(std::launch::async, [&] { return roots->for_call(); });
  EXPECT_EQ(call.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout) << "the list is stale";
  roots->on_response(answer("isb-roots-2", {"file://" + dir_ + "/other"}));
  EXPECT_EQ(json::serialize(doc(call.get()).at("roots")), json::serialize(json::array{json::value(dir_ + "/other")}));
}

TEST_F(ClientRootsTest, AnErrorAnswerOrNoAnswerMakesTheListUnknown) {
  auto roots = make(std::chrono::milliseconds(300));
  roots->set_offered(true);
  roots->request();
  roots->on_response(json::object{{"jsonrpc", "2.0"},
                                  {"id", "isb-roots-1"},
                                  {"error", json::object{{"code", -32601}, {"message", "Method not found"}}}});
  json::object d = doc(roots->for_call());
  EXPECT_TRUE(d.at("roots").as_array().empty());
  EXPECT_EQ(d.at("error"), "the client answered roots/list with error -32601: Method not found");

  roots->request();  // never answered
  auto started = std::chrono::steady_clock::now();
  json::object late = doc(roots->for_call());
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(250));
  EXPECT_EQ(late.at("error"), "the client did not answer roots/list within 300 ms");
  EXPECT_TRUE(late.at("roots").as_array().empty());
}

TEST_F(ClientRootsTest, ACallBeforeInitializedAsksItselfAndCloseEndsTheWait) {
  auto roots = make();
  roots->set_offered(true);
  auto call = std::async(std::launch::async, [&] { return roots->for_call(); });
  for (int i = 0; i < 100 && sent().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(sent().size(), 1u) << "the first call asks";
  roots->close();
  json::object d = doc(call.get());
  EXPECT_EQ(d.at("error"), "the session ended before the client answered roots/list");
}

TEST_F(ClientRootsTest, ResponsesToOtherRequestsAreNotTaken) {
  auto roots = make();
  roots->set_offered(true);
  EXPECT_FALSE(roots->on_response(json::object{{"jsonrpc", "2.0"}, {"id", 7}, {"result", json::object{}}}));
  EXPECT_FALSE(roots->on_response(json::object{{"jsonrpc", "2.0"}, {"id", "other-1"}, {"result", json::object{}}}));
  EXPECT_TRUE(roots->on_response(json::object{{"jsonrpc", "2.0"}, {"id", "isb-roots-x"}, {"result", json::object{}}}));
}

}  // namespace
