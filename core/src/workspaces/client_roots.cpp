// client_roots.cpp: reading the client roots document a transport hands over.
#include <isb/core/client_roots.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace json = boost::json;

namespace isb {

ClientRoots parse_client_roots(std::string_view text) {
  auto broken = [](const std::string& why) {
    return ClientRoots{{},
                       "the transport sent the client's roots in a form the server does not read (" + why +
                           "); this is a bug in the transport plugin"};
  };
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return broken("not JSON: " + ec.message());
  if (!doc.is_object()) return broken("not an object");
  const json::object& o = doc.as_object();
  const json::value* roots = o.if_contains("roots");
  if (!roots || !roots->is_array()) return broken("\"roots\" is not a list");
  ClientRoots out;
  for (const auto& r : roots->as_array()) {
    if (!r.is_string() || r.as_string().empty() || r.as_string()[0] != '/') {
      return broken("a root is not an absolute path: " + json::serialize(r));
    }
    out.directories.emplace_back(r.as_string());
  }
  if (const json::value* e = o.if_contains("error"); e && e->is_string() && !e->as_string().empty()) {
    out.error = std::string(e->as_string());
    out.directories.clear();  // an unknown list never allows anything
  }
  return out;
}

}  // namespace isb
