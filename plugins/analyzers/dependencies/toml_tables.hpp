// toml_tables.hpp: what the TOML parsers (pyproject.toml and poetry.lock /
// uv.lock in python.cpp, Cargo.toml and Cargo.lock in rust.cpp) read alike:
// the document with a line-numbered warning when it is malformed, the common
// fields of a dependency-table entry, and the [[package]] array of a lockfile.
//
//   auto t = parse_toml(f, out);  // nullopt + "<file>:<line>: invalid TOML: ..."
//   if (!t) return;
//   read_lock_packages(*t, "cargo", f, out, [](const toml::table& entry, Locked& l) {
//     l.local = !entry.contains("source");
//   });
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <optional>

#include "dependencies/dependency.hpp"

namespace isb::analyzer::deps {

//! Parses f as TOML; on error adds "<file>:<line>: invalid TOML: <why> (...)"
//! to out.warnings and returns nullopt.
std::optional<toml::table> parse_toml(const SourceFile& f, FileFacts& out);

//! The 1-based line a node starts on.
int toml_line(const toml::node& n);

//! The entry `key = ...` of a dependency table as a Declared with ecosystem,
//! name (the key), scope, file and line set; the caller reads the constraint
//! from the value, whose forms differ per format.
Declared declared_at_key(const toml::key& key, const char* ecosystem, Scope scope, const SourceFile& f);

//! Adds a Locked for each [[package]] entry of the lockfile lock that has a
//! name: ecosystem, name, version, file and line set, then complete(entry, l)
//! adds what only that format records (scope, local) before it is stored.
void read_lock_packages(const toml::table& lock, const char* ecosystem, const SourceFile& f, FileFacts& out,
                        const std::function<void(const toml::table& entry, Locked& l)>& complete);

}  // namespace isb::analyzer::deps
