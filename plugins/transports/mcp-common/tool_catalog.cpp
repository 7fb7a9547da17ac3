// tool_catalog.cpp: host operations -> MCP tool definitions, once.
#include "tool_catalog.hpp"

#include <boost/json/parse.hpp>

namespace json = boost::json;

namespace isb::mcp {

const ToolCatalog::Tools* ToolCatalog::get(const isb::sdk::Host& host) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tools_) return &*tools_;
  std::string text;
  try {
    text = host.list_operations();
  } catch (const std::exception& e) {
    host.error(std::string("cannot list operations: ") + e.what());
    return nullptr;
  }
  boost::system::error_code ec;
  json::value ops = json::parse(text, ec);
  if (ec || !ops.is_array()) return nullptr;
  Tools tools;
  for (const auto& op : ops.as_array()) {
    const json::object& o = op.as_object();
    const json::object& a = o.at("annotations").as_object();
    json::object tool{{"name", o.at("name")},
                      {"title", o.at("title")},
                      {"description", o.at("description")},
                      {"inputSchema", o.at("input_schema")},
                      {"outputSchema", o.at("output_schema")},
                      {"annotations", json::object{{"title", o.at("title")},
                                                   {"readOnlyHint", a.at("read_only")},
                                                   {"destructiveHint", a.at("destructive")},
                                                   {"idempotentHint", a.at("idempotent")},
                                                   {"openWorldHint", a.at("open_world")}}}};
    auto is_true = [](const json::object& in, const char* k) {
      auto* v = in.if_contains(k);
      return v && v->is_bool() && v->as_bool();
    };
    const std::string name(o.at("name").as_string());
    tools.quick[name] = is_true(a, "read_only") && is_true(a, "idempotent") && !is_true(o, "long_running");
    if (auto* t = o.if_contains("task_support"); t && t->is_string() && t->as_string() == "optional") {
      tools.task_tools.insert(name);
    }
    tools.list.push_back(std::move(tool));
  }
  tools.resources_available = tools.quick.count(kListResourcesOp) && tools.quick.count(kReadResourceOp);
  tools.tasks_available =
      !tools.task_tools.empty() && tools.quick.count(kWaitExecutionOp) && tools.quick.count(kCancelExecutionOp);
  if (!tools.tasks_available) tools.task_tools.clear();
  tools_ = std::move(tools);
  return &*tools_;
}

}  // namespace isb::mcp
