// operation_registry.cpp: the operation catalogue and its validating call path.
#include <isb/core/operation_registry.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

namespace isb {

void CallContext::progress(double progress, double total, const std::string& message) const {
  boost::json::object e{{"type", "progress"}, {"progress", progress}, {"message", message}};
  if (total > 0) e["total"] = total;
  emit(e);
}

void CallContext::output(int32_t stream, std::string_view data) const {
  emit(boost::json::object{{"type", "output"}, {"stream", stream == 2 ? "stderr" : "stdout"}, {"data", data}});
}

Status OperationRegistry::add(OperationSpec spec) {
  if (index_.count(spec.name)) {
    return make_error(ErrorCode::kInternal, "operation '" + spec.name + "' is registered twice");
  }
  Entry e;
  boost::system::error_code ec;
  e.input_schema = boost::json::parse(spec.input_schema, ec);
  if (ec) return make_error(ErrorCode::kInternal, "operation '" + spec.name + "': input schema is not JSON");
  e.output_schema = boost::json::parse(spec.output_schema, ec);
  if (ec) return make_error(ErrorCode::kInternal, "operation '" + spec.name + "': output schema is not JSON");
  auto in = JsonSchema::compile(e.input_schema);
  if (!in) return make_error(ErrorCode::kInternal, "operation '" + spec.name + "': " + in.error().message);
  auto out = JsonSchema::compile(e.output_schema);
  if (!out) return make_error(ErrorCode::kInternal, "operation '" + spec.name + "': " + out.error().message);
  e.input = *in;
  e.output = *out;
  e.spec = std::move(spec);
  index_[e.spec.name] = entries_.size();
  entries_.push_back(std::move(e));
  return ok_status();
}

boost::json::array OperationRegistry::list() const {
  boost::json::array ops;
  for (const auto& e : entries_) {
    const auto& a = e.spec.annotations;
    boost::json::object op{{"name", e.spec.name},
                           {"title", e.spec.title},
                           {"description", e.spec.description},
                           {"input_schema", e.input_schema},
                           {"output_schema", e.output_schema},
                           {"annotations", boost::json::object{{"read_only", a.read_only},
                                                               {"destructive", a.destructive},
                                                               {"idempotent", a.idempotent},
                                                               {"open_world", a.open_world}}}};
    if (e.spec.long_running || e.spec.starts_execution) op["long_running"] = true;
    if (e.spec.starts_execution) op["task_support"] = "optional";
    ops.push_back(std::move(op));
  }
  return ops;
}

Result<boost::json::value> OperationRegistry::call(const std::string& name, const boost::json::value& args,
                                                   CallContext& ctx) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    std::string names;
    for (const auto& e : entries_) names += (names.empty() ? "" : ", ") + e.spec.name;
    return make_error(ErrorCode::kNotFound, "unknown operation '" + name + "'; available: " + names);
  }
  const Entry& e = entries_[it->second];
  boost::json::value effective = args.is_null() ? boost::json::value(boost::json::object{}) : args;
  if (!effective.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "arguments of '" + name + "' must be a JSON object");
  }
  if (auto err = e.input->validate(effective, "argument")) {
    return make_error(ErrorCode::kInvalidArgument, "invalid arguments for '" + name + "': " + *err);
  }
  auto result = e.spec.handler(effective.as_object(), ctx);
  if (!result) return result;
  if (auto err = e.output->validate(*result, "result")) {
    spdlog::error("operation {} produced a result that does not match its output schema: {}; result: {}", name,
                  *err, boost::json::serialize(*result));
    return make_error(ErrorCode::kInternal,
                      "operation '" + name + "' produced an invalid result (" + *err + "); this is a server bug");
  }
  return result;
}

}  // namespace isb
