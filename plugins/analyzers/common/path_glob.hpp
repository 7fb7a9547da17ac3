// path_glob.hpp: the glob dialect of .gitignore, .gitattributes and workspace
// member lists (npm/pnpm/yarn "packages/*", Cargo "crates/**"), matched
// against "/"-separated relative paths.
//
//   path_glob_match("packages/*", "packages/web")      // true
//   path_glob_match("packages/*", "packages/web/src")  // false: * stops at "/"
//   path_glob_match("docs/**/*.md", "docs/a/b/x.md")   // true: ** spans directories
#pragma once

#include <string_view>

namespace isb::analyzer {

//! '*' matches any run of characters but '/', '?' one character but '/',
//! "[a-z]" / "[!a-z]" a class, '\' escapes the next character. "**" as a whole
//! segment ("**/x", "a/**/b", "a/**") matches any number of segments, zero
//! included; "**" elsewhere is a plain '*'. As in git's wildmatch with WM_PATHNAME.
bool path_glob_match(std::string_view pattern, std::string_view path);

//! Whether a pattern has any of the special characters above (else it is a literal path).
bool has_glob_chars(std::string_view pattern);

}  // namespace isb::analyzer
