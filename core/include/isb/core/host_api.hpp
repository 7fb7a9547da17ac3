// host_api.hpp: the core's side of the host API that transports call back
// into: the front door (API key, rate limit, lockouts after wrong keys, audit)
// and dispatch to the operation registry, the same for every transport.
//
// The Server builds one from its registry and its SecurityGate and hands it
// to the plugin host when it creates a transport instance; nothing here is
// process-global, so a Server built in a test runs with the same front door
// as the one main() builds.
//
//   isb::HostApi front_door(registry, gate);
//   auto transport = plugin_host.create("mcp-http", ISB_KIND_TRANSPORT, settings, &front_door);
//   // or, as a transport would call it:
//   front_door.call_operation("mcp-http", "list_workspaces", "{}", &request_ctx, nullptr, &out);
//
// Ownership: holds a reference to the registry (which must outlive it) and a
// share of the gate. Threading: every member is safe from any thread; the
// transport calls it concurrently.
#pragma once

#include <isb/plugin_abi.h>

#include <isb/core/operation_registry.hpp>
#include <memory>
#include <string>

namespace isb {

class SecurityGate;

class HostApi {
 public:
  //! gate may be null: then every request is admitted as its transport names
  //! it and nothing is audited.
  HostApi(const OperationRegistry& registry, std::shared_ptr<SecurityGate> gate);
  ~HostApi();
  HostApi(const HostApi&) = delete;
  HostApi& operator=(const HostApi&) = delete;

  //! isb_host_api.call_operation for the transport transport_id: admits the
  //! request (unless request->admitted says the transport did at its door),
  //! runs the operation, audits the outcome and writes the result document
  //! (or {"error":{"code","message"}}) to result. Never throws.
  isb_status call_operation(const std::string& transport_id, const char* operation, const char* args_json,
                            const isb_request_ctx* request, const isb_event_sink* events,
                            const isb_json_out* result) const;
  //! isb_host_api.admit: checks the key and charges the rate limit once per
  //! request; {"principal"} or {"error":{"code","message","retry_after_s"?}}.
  //! Fails closed on any internal error.
  isb_status admit(const std::string& transport_id, const isb_request_ctx* request,
                   const isb_json_out* out) const;
  //! isb_host_api.list_operations: the registry's catalogue.
  isb_status list_operations(const isb_json_out* out) const;
  //! isb_host_api.security_policy_json; lives as long as this object.
  const std::string& security_policy_json() const { return policy_json_; }

  //! The gate, for what the server does besides requests (SIGHUP reopens its
  //! audit log); null when there is none.
  SecurityGate* gate() const { return gate_.get(); }

  //! Fills the transport entries of api (call_operation, list_operations,
  //! admit, security_policy_json). api.host_ctx must point at the plugin
  //! host's context for the instance, whose front door is this object, and
  //! this object must outlive the instance.
  void bind(isb_host_api& api) const;

 private:
  const OperationRegistry& registry_;
  std::shared_ptr<SecurityGate> gate_;
  std::string policy_json_;
};

}  // namespace isb
