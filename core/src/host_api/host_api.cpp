// host_api.cpp: the front door and dispatch behind the host API a transport
// gets: the C trampolines (which never throw) and the HostApi members they
// forward to.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <isb/core/host_api.hpp>
#include <isb/core/security.hpp>

#include "plugins/host_context.hpp"

namespace isb {
namespace {

// What a transport is told about the front door when there is no gate.
constexpr const char* kNoGatePolicy =
    R"({"api_keys_required":false,"rate_limit":null,"audit_logging":false})";

isb_status status_from_code(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kAlreadyExists:
      return ISB_INVALID_ARGUMENT;
    case ErrorCode::kNotFound:
      return ISB_NOT_FOUND;
    case ErrorCode::kInvalidConfig:
      return ISB_INVALID_CONFIG;
    case ErrorCode::kTimeout:
      return ISB_TIMEOUT;
    case ErrorCode::kCancelled:
      return ISB_CANCELLED;
    case ErrorCode::kUnavailable:
    case ErrorCode::kResourceExhausted:
      return ISB_UNAVAILABLE;
    default:
      return ISB_ERROR;
  }
}

void set_out(const isb_json_out* out, const std::string& doc) {
  if (out && out->set) out->set(out->user, doc.data(), doc.size());
}

std::string text_of(const char* s) { return s ? std::string(s) : std::string(); }

// The peer address a 1.2 transport reports; "" from older ones.
std::string client_address(const isb_request_ctx* request) {
  if (!request || !ISB_HAS_FIELD(request, isb_request_ctx, client_address) || !request->client_address)
    return "";
  return request->client_address;
}

// Who calls, from the fields the transport's ABI minor has.
RequestInfo request_info(const std::string& transport_id, const isb_request_ctx* request) {
  RequestInfo info;
  if (request) {
    info.transport = text_of(request->transport);
    if (ISB_HAS_FIELD(request, isb_request_ctx, principal)) info.principal = text_of(request->principal);
    if (ISB_HAS_FIELD(request, isb_request_ctx, client_id)) info.client_id = text_of(request->client_id);
    if (ISB_HAS_FIELD(request, isb_request_ctx, request_id)) info.request_id = text_of(request->request_id);
    if (ISB_HAS_FIELD(request, isb_request_ctx, credential)) info.credential = text_of(request->credential);
    // Transports older than 1.3 know no roots: the configured ones apply.
    if (ISB_HAS_FIELD(request, isb_request_ctx, client_roots_json) && request->client_roots_json) {
      info.client_roots = parse_client_roots(request->client_roots_json);
    }
  }
  if (info.transport.empty()) info.transport = transport_id;
  return info;
}

// A CallContext whose events, cancellation and detachment go through the
// transport's sink (each only when the sink's ABI minor has it).
CallContext call_context(RequestInfo info, const isb_event_sink* events) {
  CallContext::EventFn on_event;
  CallContext::CancelledFn cancelled;
  CallContext::CancelledFn detached;  // 1.3 transports tell a client gone from a cancel
  if (events && ISB_HAS_FIELD(events, isb_event_sink, on_event) && events->on_event) {
    on_event = [events](const boost::json::object& e) {
      std::string text = boost::json::serialize(e);
      events->on_event(events->user, text.data(), text.size());
    };
  }
  if (events && ISB_HAS_FIELD(events, isb_event_sink, is_cancelled) && events->is_cancelled) {
    cancelled = [events] { return events->is_cancelled(events->user) != 0; };
  }
  if (events && ISB_HAS_FIELD(events, isb_event_sink, is_detached) && events->is_detached) {
    detached = [events] { return events->is_detached(events->user) != 0; };
  }
  return CallContext(std::move(info), std::move(on_event), std::move(cancelled), std::move(detached));
}

// ---- trampolines: C calling convention, host_ctx is the instance's HostContext

const HostApi* front_door_of(void* ctx) {
  auto* hc = static_cast<HostContext*>(ctx);
  return hc ? hc->front_door : nullptr;
}

isb_status trampoline_call_operation(void* ctx, const char* operation, const char* args_json,
                                     const isb_request_ctx* request, const isb_event_sink* events,
                                     const isb_json_out* result) {
  const HostApi* api = front_door_of(ctx);
  if (!api) {
    set_out(result, R"({"error":{"code":"unavailable","message":"no operations available"}})");
    return ISB_NOT_SUPPORTED;
  }
  return api->call_operation(static_cast<HostContext*>(ctx)->plugin_id, operation, args_json, request, events,
                             result);
}

isb_status trampoline_admit(void* ctx, const isb_request_ctx* request, const isb_json_out* out) {
  const HostApi* api = front_door_of(ctx);
  if (!api) return ISB_ERROR;  // fail closed: the transport refuses the request
  return api->admit(static_cast<HostContext*>(ctx)->plugin_id, request, out);
}

isb_status trampoline_list_operations(void* ctx, const isb_json_out* out) {
  const HostApi* api = front_door_of(ctx);
  return api ? api->list_operations(out) : ISB_NOT_SUPPORTED;
}

}  // namespace

HostApi::HostApi(const OperationRegistry& registry, std::shared_ptr<SecurityGate> gate)
    : registry_(registry),
      gate_(std::move(gate)),
      policy_json_(gate_ ? gate_->policy_json() : kNoGatePolicy) {}

HostApi::~HostApi() = default;

void HostApi::bind(isb_host_api& api) const {
  api.call_operation = &trampoline_call_operation;
  api.list_operations = &trampoline_list_operations;
  api.admit = &trampoline_admit;
  api.security_policy_json = policy_json_.c_str();
}

isb_status HostApi::call_operation(const std::string& transport_id, const char* operation,
                                   const char* args_json, const isb_request_ctx* request,
                                   const isb_event_sink* events, const isb_json_out* result) const {
  auto fail = [&](isb_status s, ErrorCode code, const std::string& message) {
    try {
      set_out(result, boost::json::serialize(boost::json::object{
                          {"error", {{"code", error_code_name(code)}, {"message", message}}}}));
    } catch (...) {
    }
    return s;
  };
  try {
    if (!operation) return fail(ISB_INVALID_ARGUMENT, ErrorCode::kInvalidArgument, "operation name is NULL");
    boost::json::value args;
    if (args_json && *args_json) {
      boost::system::error_code ec;
      args = boost::json::parse(args_json, ec);
      if (ec) {
        return fail(ISB_INVALID_ARGUMENT, ErrorCode::kInvalidArgument,
                    std::string("arguments are not valid JSON: ") + ec.message());
      }
    }
    RequestInfo info = request_info(transport_id, request);
    // The front door, the same for every transport: key, rate limit, audit.
    Caller caller{info.transport, info.principal, info.client_id, info.credential, client_address(request)};
    auto started = std::chrono::steady_clock::now();
    std::string principal = info.principal;
    if (gate_) {
      bool admitted = request && ISB_HAS_FIELD(request, isb_request_ctx, admitted) && request->admitted;
      Admission a = gate_->admit(caller, operation, !admitted);
      if (!a.allowed) {
        return fail(a.code == "rate_limited" ? ISB_UNAVAILABLE : ISB_INVALID_ARGUMENT,
                    a.code == "rate_limited" ? ErrorCode::kResourceExhausted : ErrorCode::kPermissionDenied,
                    a.message);
      }
      principal = a.principal;
      info.principal = principal;
    }
    auto audited = [&](isb_status s, const std::string& outcome) {
      if (gate_)
        gate_->audit(caller, principal, operation, args_json ? args_json : "", outcome,
                     std::chrono::steady_clock::now() - started);
      return s;
    };
    CallContext ctx = call_context(std::move(info), events);
    auto r = registry_.call(operation, args, ctx);
    if (!r) {
      return audited(fail(status_from_code(r.error().code), r.error().code, r.error().message),
                     std::string("error:") + error_code_name(r.error().code));
    }
    set_out(result, boost::json::serialize(*r));
    return audited(ISB_OK, "ok");
  } catch (const std::exception& e) {
    return fail(ISB_ERROR, ErrorCode::kInternal, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(ISB_ERROR, ErrorCode::kInternal, "internal error");
  }
}

isb_status HostApi::admit(const std::string& transport_id, const isb_request_ctx* request,
                          const isb_json_out* out) const {
  try {
    Caller caller;
    if (request) {
      caller.transport = text_of(request->transport);
      if (ISB_HAS_FIELD(request, isb_request_ctx, principal)) caller.principal = text_of(request->principal);
      if (ISB_HAS_FIELD(request, isb_request_ctx, client_id)) caller.client_id = text_of(request->client_id);
      if (ISB_HAS_FIELD(request, isb_request_ctx, credential))
        caller.credential = text_of(request->credential);
      caller.client_address = client_address(request);
    }
    if (caller.transport.empty()) caller.transport = transport_id;
    if (!gate_) {
      set_out(out, boost::json::serialize(boost::json::object{
                       {"principal", caller.principal.empty() ? "anonymous" : caller.principal}}));
      return ISB_OK;
    }
    Admission a = gate_->admit(caller, "(request)", true);
    if (a.allowed) {
      set_out(out, boost::json::serialize(boost::json::object{{"principal", a.principal}}));
      return ISB_OK;
    }
    boost::json::object err{{"code", a.code}, {"message", a.message}};
    if (a.retry_after_s > 0) err["retry_after_s"] = a.retry_after_s;
    set_out(out, boost::json::serialize(boost::json::object{{"error", std::move(err)}}));
    return a.code == "rate_limited" ? ISB_UNAVAILABLE : ISB_INVALID_ARGUMENT;
  } catch (...) {
    return ISB_ERROR;  // fail closed: the transport refuses the request
  }
}

isb_status HostApi::list_operations(const isb_json_out* out) const {
  try {
    set_out(out, boost::json::serialize(registry_.list()));
    return ISB_OK;
  } catch (...) {
    return ISB_ERROR;
  }
}

}  // namespace isb
