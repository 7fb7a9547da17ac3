// origin_policy.hpp: which Host and Origin headers the HTTP transport accepts.
//
// A browser page from another site can reach a server on 127.0.0.1 through
// DNS rebinding: its own name resolves to 127.0.0.1 but the browser still
// sends that name as Host and the site as Origin. Checking both against the
// names this server answers to stops it (MCP transports, "Security Warning").
//
//   OriginPolicy policy("127.0.0.1", {"sandbox.internal"}, {});
//   policy.host_allowed("localhost:8080");          // true
//   policy.origin_allowed("http://evil.example");   // false
//
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace isb::mcp {

class OriginPolicy {
 public:
  //! bind_host: the address the server listens on. extra_hosts: further host
  //! names (without port) clients use. extra_origins: exact origins
  //! ("https://app.example") allowed besides those of the allowed hosts.
  OriginPolicy(const std::string& bind_host, std::vector<std::string> extra_hosts,
               std::vector<std::string> extra_origins);

  //! host_header: the Host header value, "name[:port]" or "[v6]:port".
  bool host_allowed(std::string_view host_header) const;
  //! origin: the Origin header value; "null" and unparsable origins are refused.
  bool origin_allowed(std::string_view origin) const;

  //! The host part of "name[:port]" / "[v6][:port]", lower-cased.
  static std::string host_name(std::string_view host_and_port);

 private:
  std::vector<std::string> hosts_;
  std::vector<std::string> origins_;
};

}  // namespace isb::mcp
