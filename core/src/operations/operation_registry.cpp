// operation_registry.cpp: the operation catalogue and its validating call path.
#include <isb/core/operation_registry.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

namespace isb {

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

Status OperationRegistry::expose_only(const std::vector<ToolExposure>& tools, const std::string& source) {
  auto all_names = [&] {
    std::string names;
    for (const auto& e : entries_) names += (names.empty() ? "" : ", ") + e.spec.name;
    return names;
  };
  std::vector<bool> keep(entries_.size(), false);
  std::map<std::string, std::string> descriptions;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolExposure& t = tools[i];
    const std::string where = source + ": tools[" + std::to_string(i) + "] (" + t.name + ")";
    auto it = index_.find(t.name);
    if (it == index_.end()) {
      return make_error(ErrorCode::kInvalidConfig,
                        where + ": this server has no tool of that name; its tools are: " + all_names());
    }
    const Entry& e = entries_[it->second];
    const boost::json::object* props = nullptr;
    if (e.input_schema.is_object()) {
      if (auto* p = e.input_schema.as_object().if_contains("properties"); p && p->is_object())
        props = &p->as_object();
    }
    for (const auto& [param, type] : t.parameters) {
      const boost::json::value* prop = props ? props->if_contains(param) : nullptr;
      if (!prop) {
        std::string args;
        if (props) {
          for (const auto& kv : *props) args += (args.empty() ? "" : ", ") + std::string(kv.key());
        }
        return make_error(ErrorCode::kInvalidConfig,
                          where + ": '" + param + "' is not an argument of " + t.name + " (its arguments: " +
                              (args.empty() ? "none" : args) + "); remove it or fix its name");
      }
      const boost::json::value* declared =
          prop->is_object() ? prop->as_object().if_contains("type") : nullptr;
      bool matches = !declared;  // an argument of several shapes (oneOf) takes any listed type
      if (declared && declared->is_string()) matches = declared->as_string() == type;
      if (declared && declared->is_array()) {
        for (const auto& d : declared->as_array())
          matches = matches || (d.is_string() && d.as_string() == type);
      }
      if (!matches) {
        return make_error(ErrorCode::kInvalidConfig, where + ": argument '" + param + "' of " + t.name +
                                                         " is " + boost::json::serialize(*declared) +
                                                         ", not \"" + type +
                                                         "\"; fix the type or remove the parameter");
      }
    }
    keep[it->second] = true;
    if (t.description) descriptions[t.name] = *t.description;
  }
  // A tool whose work goes on in the background is of no use without the
  // tools that follow and stop that work (a list written before they existed
  // names only the first).
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!keep[i]) continue;
    for (const auto& c : entries_[i].spec.companions) {
      auto it = index_.find(c);
      if (it == index_.end() || keep[it->second]) continue;
      keep[it->second] = true;
      spdlog::info("{}: exposing {} too: {} needs it to follow or stop the work it starts", source, c,
                   entries_[i].spec.name);
    }
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    entries_[i].hidden = !keep[i];
    if (auto d = descriptions.find(entries_[i].spec.name); d != descriptions.end())
      entries_[i].spec.description = d->second;
  }
  hidden_by_ = source;
  return ok_status();
}

boost::json::array OperationRegistry::list() const {
  boost::json::array ops;
  for (const auto& e : entries_) {
    if (e.hidden) continue;
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
  // Only operations that exist are observed: names a client makes up must not
  // grow the observer's tables.
  if (!observer_ || !contains(name)) return call_unobserved(name, args, ctx);
  const auto started = std::chrono::steady_clock::now();
  auto result = call_unobserved(name, args, ctx);
  observer_(name, std::chrono::steady_clock::now() - started, result ? nullptr : &result.error());
  return result;
}

Result<boost::json::value> OperationRegistry::call_unobserved(const std::string& name,
                                                              const boost::json::value& args,
                                                              CallContext& ctx) const {
  auto it = index_.find(name);
  if (it == index_.end() || entries_[it->second].hidden) {
    std::string names;
    for (const auto& e : entries_) {
      if (!e.hidden) names += (names.empty() ? "" : ", ") + e.spec.name;
    }
    std::string why = it == index_.end() ? "unknown operation '" + name + "'"
                                         : "operation '" + name + "' is not exposed (" + hidden_by_ +
                                               " lists the tools this server offers)";
    return make_error(ErrorCode::kNotFound, why + "; available: " + names);
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
