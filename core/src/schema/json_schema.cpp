// json_schema.cpp: JsonSchema on valijson with the Boost.JSON adapter.
#define VALIJSON_USE_EXCEPTIONS 1
#include <isb/core/json_schema.hpp>

#include <algorithm>
#include <cctype>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace isb {

struct JsonSchema::Impl {
  valijson::Schema schema;
};

JsonSchema::~JsonSchema() = default;

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(const boost::json::value& schema) {
  std::shared_ptr<JsonSchema> s(new JsonSchema());
  s->document_ = schema;
  s->impl_ = std::make_unique<Impl>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::BoostJsonAdapter adapter(s->document_);
    parser.populateSchema(adapter, s->impl_->schema);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string("invalid JSON Schema: ") + e.what());
  }
  return std::shared_ptr<const JsonSchema>(std::move(s));
}

namespace {

// valijson's context looks like ["<root>", "[timeout_s]", "[0]"]: turn it into
// "timeout_s[0]" so that messages name the property the user wrote.
std::string context_path(const std::vector<std::string>& context) {
  std::string path;
  for (size_t i = 1; i < context.size(); ++i) {
    std::string part = context[i];
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') part = part.substr(1, part.size() - 2);
    bool index = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (index) {
      path += "[" + part + "]";
    } else {
      if (!path.empty()) path += ".";
      path += part;
    }
  }
  return path;
}

}  // namespace

std::optional<std::string> JsonSchema::validate(const boost::json::value& doc, const std::string& what) const {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter target(doc);
  bool ok = false;
  try {
    ok = validator.validate(impl_->schema, target, &results);
  } catch (const std::exception& e) {
    return what + ": " + e.what();
  }
  if (ok) return std::nullopt;
  // The deepest error is the most specific one ("expected integer" rather than
  // "object failed to validate against schema").
  const valijson::ValidationResults::Error* best = nullptr;
  for (const auto& e : results) {
    if (!best || e.context.size() > best->context.size()) best = &e;
  }
  if (!best) return what + " does not match its schema";
  std::string path = context_path(best->context);
  std::string msg = what;
  if (!path.empty()) msg += " '" + path + "'";
  msg += ": " + best->description;
  return msg;
}

}  // namespace isb
