// origin_policy.cpp: Host and Origin checks against DNS rebinding.
#include "origin_policy.hpp"

#include <algorithm>
#include <cctype>

namespace isb::mcp {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_loopback_name(const std::string& h) {
  return h == "localhost" || h == "::1" || h == "[::1]" || h.rfind("127.", 0) == 0;
}

}  // namespace

OriginPolicy::OriginPolicy(const std::string& bind_host, std::vector<std::string> extra_hosts,
                           std::vector<std::string> extra_origins)
    : origins_(std::move(extra_origins)) {
  std::string bound = host_name(bind_host);
  // A loopback server answers to every loopback name; any other server only to
  // its own address and the names the operator listed.
  if (is_loopback_name(bound) || bound == "0.0.0.0" || bound == "::" || bound == "[::]") {
    hosts_ = {"localhost", "127.0.0.1", "[::1]"};
  }
  if (bound != "0.0.0.0" && bound != "::" && bound != "[::]") hosts_.push_back(bound);
  for (auto& h : extra_hosts) hosts_.push_back(host_name(h));
  for (auto& o : origins_) o = lower(o);
}

std::string OriginPolicy::host_name(std::string_view hp) {
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    return lower(close == std::string_view::npos ? hp : hp.substr(0, close + 1));
  }
  // A bare IPv6 address has several colons and no port.
  if (std::count(hp.begin(), hp.end(), ':') > 1) return "[" + lower(hp) + "]";
  size_t colon = hp.find(':');
  return lower(colon == std::string_view::npos ? hp : hp.substr(0, colon));
}

bool OriginPolicy::host_allowed(std::string_view host_header) const {
  if (host_header.empty()) return false;
  std::string h = host_name(host_header);
  return std::find(hosts_.begin(), hosts_.end(), h) != hosts_.end();
}

bool OriginPolicy::origin_allowed(std::string_view origin) const {
  std::string o = lower(origin);
  if (std::find(origins_.begin(), origins_.end(), o) != origins_.end()) return true;
  size_t scheme_end = o.find("://");
  if (scheme_end == std::string::npos) return false;
  std::string scheme = o.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  std::string_view rest = std::string_view(o).substr(scheme_end + 3);
  if (rest.empty() || rest.find('/') != std::string_view::npos) return false;
  return host_allowed(rest);
}

}  // namespace isb::mcp
