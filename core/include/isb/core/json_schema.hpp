// json_schema.hpp: a compiled JSON Schema (draft 7) and validation with
// messages that name the failing property, for plugin configs, operation
// arguments and operation results.
//
//   auto schema = JsonSchema::compile(schema_json);
//   if (auto err = schema->validate(doc)) { /* *err says what and where */ }
#pragma once

#include <isb/core/result.hpp>

#include <boost/json/value.hpp>

#include <memory>
#include <optional>
#include <string>

namespace isb {

//! Immutable after compile; validate() is thread-safe.
class JsonSchema {
 public:
  static Result<std::shared_ptr<const JsonSchema>> compile(const boost::json::value& schema);
  ~JsonSchema();

  //! nullopt when doc is valid; otherwise a message like
  //! "argument 'timeout_s': expected integer" built from the deepest error.
  std::optional<std::string> validate(const boost::json::value& doc, const std::string& what = "value") const;

  const boost::json::value& document() const { return document_; }

 private:
  struct Impl;
  JsonSchema() = default;
  boost::json::value document_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace isb
