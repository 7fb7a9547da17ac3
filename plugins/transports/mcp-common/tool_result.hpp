// tool_result.hpp: an operation's answer (isb::sdk::CallResult) as the JSON
// text of an MCP CallToolResult: on success the schema-checked document as
// structuredContent and, escaped, as a text block (plus resource_link items
// for the URIs in its "resource_links"); on failure isError with the code
// and message, so that the model reads why.
//
//   std::string result = tool_result_json(r, /*resource_links=*/true);
//   send_text(R"({"jsonrpc":"2.0","id":1,"result":)" + result + "}");
//
// Threading: pure functions.
#pragma once

#include <isb/sdk/plugin.hpp>
#include <string>
#include <string_view>

namespace isb::mcp {

//! resource_links: add resource_link content items (revisions 2025-06-18 and
//! later; older clients find the URIs in the JSON). meta_json, when not
//! empty, is an object text that becomes the result's _meta.
std::string tool_result_json(const isb::sdk::CallResult& r, bool resource_links,
                             std::string_view meta_json = {});

}  // namespace isb::mcp
