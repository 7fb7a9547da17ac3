// tool_result.cpp: CallResult -> CallToolResult text, without parsing and
// serializing the document again on the hot path.
#include "tool_result.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace json = boost::json;

namespace isb::mcp {

namespace {

// Content items of type resource_link for the result's "resource_links".
void append_resource_links(std::string& content, std::string_view result_json) {
  // Only results that offer links pay for parsing them.
  if (result_json.find("\"resource_links\"") == std::string_view::npos) return;
  boost::system::error_code ec;
  json::value doc = json::parse(result_json, ec);
  if (ec || !doc.is_object()) return;
  auto* links = doc.as_object().if_contains("resource_links");
  if (!links || !links->is_array()) return;
  for (const auto& l : links->as_array()) {
    if (!l.is_object()) continue;
    const json::object& lo = l.as_object();
    auto* uri = lo.if_contains("uri");
    auto* name = lo.if_contains("name");
    if (!uri || !uri->is_string() || !name || !name->is_string()) continue;
    json::object item{{"type", "resource_link"}, {"uri", *uri}, {"name", *name}};
    for (const char* k : {"title", "description", "mimeType", "size"}) {
      if (auto* v = lo.if_contains(k)) item[k] = *v;
    }
    content.push_back(',');
    content += json::serialize(item);
  }
}

}  // namespace

std::string tool_result_json(const isb::sdk::CallResult& r, bool resource_links, std::string_view meta_json) {
  std::string text;
  if (r.status == ISB_OK) {
    // The host hands over a serialized, schema-checked document: it goes out
    // as structuredContent and, escaped, as the text block.
    text.reserve(2 * r.json.size() + 96 + meta_json.size());
    text += R"({"content":[{"type":"text","text":)";
    text += json::serialize(json::string_view(r.json));
    text.push_back('}');
    if (resource_links) append_resource_links(text, r.json);
    text += R"(],"structuredContent":)";
    text += r.json;
    text += R"(,"isError":false)";
  } else {
    boost::system::error_code ec;
    json::value doc = json::parse(r.json, ec);
    std::string message = "the operation failed";
    std::string code = "error";
    if (!ec && doc.is_object()) {
      if (auto* err = doc.as_object().if_contains("error"); err && err->is_object()) {
        const json::object& eo = err->as_object();
        if (auto* m = eo.if_contains("message"); m && m->is_string()) message = std::string(m->as_string());
        if (auto* c = eo.if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
      }
    }
    // Tool failures are results with isError, so the model sees the message.
    text += R"({"content":[{"type":"text","text":)";
    text += json::serialize(json::value(code + ": " + message));
    text += R"(}],"isError":true)";
  }
  if (!meta_json.empty()) {
    text += R"(,"_meta":)";
    text += meta_json;
  }
  text.push_back('}');
  return text;
}

}  // namespace isb::mcp
