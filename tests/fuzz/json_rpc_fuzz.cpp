// json_rpc_fuzz.cpp: libFuzzer harness for the JSON-RPC/MCP layer shared by
// every MCP transport (McpSession::handle_text), against an in-process host
// whose operations answer at once (echo, fail, and list_resources /
// read_resource, so the resources/* methods are reached too; start with
// wait_execution and cancel_execution, so that 2025-11-25 sessions offer
// tasks and the tasks/* methods are reached). Any input must be answered or
// ignored without a crash, a sanitizer report or a hang.
//
//   tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS   (builds with Debian clang, runs)
#include <isb/plugin_abi.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "json_rpc.hpp"
#include "mcp_session.hpp"

namespace {

const char kCatalogue[] =
    R"([{"name":"echo","title":"Echo","description":"echo","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":true,"destructive":false,)"
    R"("idempotent":true,"open_world":false}},)"
    R"({"name":"fail","title":"Fail","description":"fail","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":false,"destructive":false,)"
    R"("idempotent":true,"open_world":false}},)"
    R"({"name":"list_resources","title":"L","description":"l","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":true,"destructive":false,)"
    R"("idempotent":true,"open_world":false}},)"
    R"({"name":"read_resource","title":"R","description":"r","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":true,"destructive":false,)"
    R"("idempotent":true,"open_world":false}},)"
    R"({"name":"start","title":"S","description":"s","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":false,"destructive":false,)"
    R"("idempotent":false,"open_world":false},"long_running":true,"task_support":"optional"},)"
    R"({"name":"wait_execution","title":"W","description":"w","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":true,"destructive":false,)"
    R"("idempotent":true,"open_world":false},"long_running":true},)"
    R"({"name":"cancel_execution","title":"C","description":"c","input_schema":{"type":"object"},)"
    R"("output_schema":{"type":"object"},"annotations":{"read_only":false,"destructive":false,)"
    R"("idempotent":true,"open_world":false}}])";

isb_status list_ops(void*, const isb_json_out* out) {
  out->set(out->user, kCatalogue, sizeof kCatalogue - 1);
  return ISB_OK;
}

isb_status call_op(void*, const char* operation, const char* args_json, const isb_request_ctx*,
                   const isb_event_sink* events, const isb_json_out* result) {
  static const char kProgress[] = R"({"type":"progress","progress":1,"message":"m"})";
  static const char kOutput[] = R"({"type":"output","stream":"stderr","data":"x"})";
  if (events && events->on_event) {
    events->on_event(events->user, kProgress, sizeof kProgress - 1);
    events->on_event(events->user, kOutput, sizeof kOutput - 1);
  }
  if (std::strcmp(operation, "fail") == 0 || std::strstr(args_json, "missing") != nullptr) {
    static const char kErr[] = R"({"error":{"code":"invalid_argument","message":"no"}})";
    result->set(result->user, kErr, sizeof kErr - 1);
    return ISB_INVALID_ARGUMENT;
  }
  result->set(result->user, args_json, std::strlen(args_json));
  return ISB_OK;
}

void log_nothing(void*, int32_t, const char*) {}

isb_host_api make_host() {
  isb_host_api api{};
  api.struct_size = sizeof api;
  api.abi_major = ISB_ABI_MAJOR;
  api.abi_minor = ISB_ABI_MINOR;
  api.log = &log_nothing;
  api.call_operation = &call_op;
  api.list_operations = &list_ops;
  api.host_info_json = R"({"name":"fuzz","version":"1.2.3","abi":"1.0"})";
  return api;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static isb_host_api api = make_host();
  // One pool for every input, as a transport shares one across sessions.
  static auto pool = std::make_shared<isb::mcp::CallPool>(isb::mcp::CallPool::Options{2, 2, 64});
  std::atomic<size_t> written{0};
  isb::mcp::SessionOptions options;
  options.tools_page_size = 1;
  options.pool = pool;
  isb::mcp::McpSession session(
      isb::sdk::Host(&api), "fuzz",
      [&](isb::mcp::Outgoing m) {
        written += m.text.size();
        return true;
      },
      options);
  // The input is several messages separated by newlines, as stdio frames them.
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  for (int n = 0; n < 64 && start <= text.size(); ++n) {
    size_t nl = text.find('\n', start);
    std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    session.handle_text(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  session.shutdown();
  return 0;
}
