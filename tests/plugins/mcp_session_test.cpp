// mcp_session_test.cpp: one MCP session (plugins/transports/mcp-common/
// mcp_session.hpp) against a scripted host API, below the transports'
// framing: initialize, tools/list from the core's catalogue, tools/call
// carried to call_operation with who is calling, and the JSON-RPC errors a
// client gets for malformed or unknown requests.
#include "mcp_session.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace json = boost::json;
using isb::mcp::McpSession;
using isb::mcp::Origin;
using isb::mcp::Outgoing;
using ::testing::HasSubstr;

namespace {

// The core as the session sees it: one read-only tool, "echo", which answers
// with its arguments; every call is recorded with its request context.
class ScriptedHost {
 public:
  struct Call {
    std::string operation;
    std::string args;
    std::string transport;
    std::string credential;
    bool admitted = false;
  };

  ScriptedHost() {
    api_.struct_size = sizeof api_;
    api_.abi_major = ISB_ABI_MAJOR;
    api_.abi_minor = ISB_ABI_MINOR;
    api_.host_ctx = this;
    api_.log = [](void*, int32_t, const char*) {};
    api_.host_info_json = R"({"name":"intelligent-sandbox","version":"9.8.7"})";
    api_.call_operation = &ScriptedHost::call_operation;
    api_.list_operations = &ScriptedHost::list_operations;
  }
  isb::sdk::Host host() { return isb::sdk::Host(&api_); }
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  static void set(const isb_json_out* out, const std::string& doc) {
    out->set(out->user, doc.data(), doc.size());
  }

  static isb_status call_operation(void* ctx, const char* operation, const char* args_json,
                                   const isb_request_ctx* request, const isb_event_sink*,
                                   const isb_json_out* result) {
    auto* self = static_cast<ScriptedHost*>(ctx);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->calls_.push_back({operation, args_json ? args_json : "",
                              request->transport ? request->transport : "",
                              request->credential ? request->credential : "", request->admitted != 0});
    }
    if (std::string(operation) != "echo") {
      set(result, R"({"error":{"code":"not_found","message":"no such operation"}})");
      return ISB_NOT_FOUND;
    }
    set(result, std::string(R"({"echo":)") + (args_json && *args_json ? args_json : "{}") + "}");
    return ISB_OK;
  }

  static isb_status list_operations(void*, const isb_json_out* out) {
    set(out,
        R"([{"name":"echo","title":"Echo","description":"Answers with its arguments",)"
        R"("input_schema":{"type":"object","properties":{"text":{"type":"string"}}},)"
        R"("output_schema":{"type":"object"},)"
        R"("annotations":{"read_only":true,"destructive":false,"idempotent":true,"open_world":false}}])");
    return ISB_OK;
  }

  isb_host_api api_{};
  std::mutex mu_;
  std::vector<Call> calls_;
};

// The session's writer: every message it sends, and a wait for a response.
class Inbox {
 public:
  isb::mcp::Writer writer() {
    return [this](Outgoing m) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(json::parse(m.text).as_object());
      }
      cv_.notify_all();
      return true;
    };
  }
  //! The response to id, waiting up to 10 s for it.
  std::optional<json::object> response(int64_t id) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<json::object> found;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& m : messages_) {
        const json::value* i = m.if_contains("id");
        if (i && i->is_int64() && i->as_int64() == id && !m.contains("method")) found = m;
      }
      return found.has_value();
    });
    return found;
  }
  //! The first response with a null id (a parse error).
  std::optional<json::object> null_id_response() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& m : messages_) {
      if (const json::value* i = m.if_contains("id"); i && i->is_null()) return m;
    }
    return std::nullopt;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json::object> messages_;
};

class McpSessionTest : public ::testing::Test {
 protected:
  //! Sends initialize asking for revision and returns its result.
  json::object initialize(McpSession& s, const std::string& revision = "2025-06-18") {
    s.handle_text(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")" +
                  revision + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
    auto r = inbox_.response(1);
    EXPECT_TRUE(r) << "no answer to initialize";
    s.handle_text(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    return r ? r->at("result").as_object() : json::object{};
  }

  ScriptedHost core_;
  Inbox inbox_;
};

TEST_F(McpSessionTest, InitializeNegotiatesTheClientsRevisionAndNamesTheServer) {
  McpSession s(core_.host(), "mcp-test", inbox_.writer());
  json::object result = initialize(s);
  EXPECT_EQ(result.at("protocolVersion"), "2025-06-18");
  EXPECT_EQ(result.at("serverInfo").at("version"), "9.8.7") << "the version comes from the host";
  EXPECT_TRUE(result.at("capabilities").as_object().contains("tools"));
  EXPECT_EQ(s.protocol_version(), "2025-06-18");
}

TEST_F(McpSessionTest, AnUnknownRevisionGetsTheNewestThisServerSpeaks) {
  McpSession s(core_.host(), "mcp-test", inbox_.writer());
  EXPECT_EQ(initialize(s, "1999-01-01").at("protocolVersion"), isb::mcp::kSupportedVersions[0]);
}

TEST_F(McpSessionTest, ToolsListShowsTheCoresCatalogueAsMcpTools) {
  McpSession s(core_.host(), "mcp-test", inbox_.writer());
  initialize(s);
  s.handle_text(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  auto r = inbox_.response(2);
  ASSERT_TRUE(r);
  const json::array& tools = r->at("result").at("tools").as_array();
  ASSERT_EQ(tools.size(), 1u) << json::serialize(*r);
  EXPECT_EQ(tools[0].at("name"), "echo");
  EXPECT_TRUE(tools[0].as_object().contains("inputSchema"));
  EXPECT_EQ(tools[0].at("annotations").at("readOnlyHint"), true);
}

TEST_F(McpSessionTest, ToolsCallReachesTheCoreWithWhoIsCallingAndAnswersWithItsResult) {
  McpSession s(core_.host(), "mcp-test", inbox_.writer());
  initialize(s);
  Origin origin;
  origin.credential = "key-1";
  origin.admitted = true;
  s.handle_text(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",)"
                R"("arguments":{"text":"hello"}}})",
                origin);
  auto r = inbox_.response(3);
  ASSERT_TRUE(r);
  const json::object& result = r->at("result").as_object();
  EXPECT_EQ(result.at("isError"), false) << json::serialize(*r);
  EXPECT_EQ(result.at("structuredContent").at("echo").at("text"), "hello");
  s.shutdown();
  auto calls = core_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].operation, "echo");
  EXPECT_EQ(json::parse(calls[0].args), json::parse(R"({"text":"hello"})"));
  EXPECT_EQ(calls[0].transport, "mcp-test");
  EXPECT_EQ(calls[0].credential, "key-1");
  EXPECT_TRUE(calls[0].admitted);
}

TEST_F(McpSessionTest, AnUnknownToolIsRefusedWithoutReachingTheCore) {
  McpSession s(core_.host(), "mcp-test", inbox_.writer());
  initialize(s);
  s.handle_text(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"rm_rf"}})");
  auto r = inbox_.response(4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("error").at("code"), -32602);
  EXPECT_THAT(std::string(r->at("error").at("message").as_string()), HasSubstr("Unknown tool: rm_rf"));
  EXPECT_TRUE(core_.calls().empty());
}

TEST_F(McpSessionTest, MalformedJsonAndUnknownMethodsGetJsonRpcErrorsAndTheSessionGoesOn) {
  McpSession s(core_.host(), "mcp-test", inbox_.writer());
  s.handle_text("{not json");
  auto parse_error = inbox_.null_id_response();
  ASSERT_TRUE(parse_error);
  EXPECT_EQ(parse_error->at("error").at("code"), -32700);
  initialize(s);
  s.handle_text(R"({"jsonrpc":"2.0","id":5,"method":"prompts/list"})");
  auto r = inbox_.response(5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("error").at("code"), -32601);
  s.handle_text(R"({"jsonrpc":"2.0","id":6,"method":"ping"})");
  auto pong = inbox_.response(6);
  ASSERT_TRUE(pong);
  EXPECT_TRUE(pong->at("result").as_object().empty());
}

}  // namespace
