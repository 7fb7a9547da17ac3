// dependency.hpp: what the manifest and lockfile parsers of the dependencies
// analyzer produce, and the entry points of every parser.
//
//   FileFacts facts;
//   parse_package_json({"web/package.json", text}, facts);
//   // facts.declared: one Declared per dependency the manifest names
//   // facts.warnings: "web/package.json:3: invalid JSON: ..." when malformed
//
// A parser never throws on bad input: a malformed file becomes a warning that
// names the file and line, and whatever was read before the error is kept out
// (a half-parsed manifest would report wrong scopes).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace isb::analyzer::deps {

//! Why a project needs a dependency.
enum class Scope { kRuntime, kDev, kTest, kBuild, kOptional };
const char* scope_name(Scope s);

//! One manifest or lockfile: its path relative to the analysed root and its text.
struct SourceFile {
  std::string rel;
  std::string_view text;
};

//! A dependency as a manifest declares it.
struct Declared {
  std::string ecosystem;   // package ecosystem: npm, pypi, cargo, go, maven, nuget, rubygems, ...
  std::string name;        // as written in the manifest
  std::string constraint;  // as written ("^18.2.0", ">=2,<3"); empty when none is given
  std::string pinned;      // the exact version when the manifest itself pins one ("==1.2.3", a conan ref)
  std::string marker;      // PEP 508 environment marker, when present
  Scope scope = Scope::kRuntime;
  bool transitive = false;  // go.mod's "// indirect": listed, but needed only by other modules
  std::string file;
  int line = 0;  // 1-based; 0 when the grammar gives none
};

//! A package version a lockfile records.
struct Locked {
  std::string ecosystem;
  std::string name;
  std::string version;
  Scope scope = Scope::kRuntime;  // only meaningful when scope_known
  bool scope_known = false;
  //! Entries visible only to one workspace member (npm's nested node_modules of
  //! a member, a pnpm importer): the member's directory relative to the
  //! lockfile's directory. Empty for entries every member sees.
  std::string member;
  //! A pnpm importer entry: the exact version a member's specifier resolved to.
  bool importer = false;
  //! Local packages (workspace members, path dependencies) are not dependencies.
  bool local = false;
  //! The ranges this entry was resolved for (yarn.lock headers), when the
  //! lockfile says; a declared constraint found here picks this entry.
  std::vector<std::string> ranges;
  std::string file;
  int line = 0;
};

//! Everything one file yields.
struct FileFacts {
  std::vector<Declared> declared;
  std::vector<Locked> locked;
  std::vector<std::string> warnings;
};

// ---- manifests (one parser per format; file names in manifest_kind)
void parse_package_json(const SourceFile& f, FileFacts& out);
void parse_composer_json(const SourceFile& f, FileFacts& out);
void parse_cargo_toml(const SourceFile& f, FileFacts& out);
void parse_pyproject_toml(const SourceFile& f, FileFacts& out);
//! The text of another file of the analysed tree by relative path, or nullptr
//! when the tree has no such regular file.
using ReadFile = std::function<const std::string*(const std::string& rel)>;
//! Follows "-r other.txt" includes through read; a file already in visited is
//! not read again (so cycles end and a file included by two is listed once).
void parse_requirements_txt(const SourceFile& f, FileFacts& out, const ReadFile& read,
                            std::set<std::string>& visited);
void parse_pom_xml(const SourceFile& f, FileFacts& out);
void parse_csproj(const SourceFile& f, FileFacts& out);
void parse_go_mod(const SourceFile& f, FileFacts& out);
void parse_gemfile(const SourceFile& f, FileFacts& out);
void parse_cmakelists(const SourceFile& f, FileFacts& out);
void parse_conanfile_txt(const SourceFile& f, FileFacts& out);
void parse_vcpkg_json(const SourceFile& f, FileFacts& out);
void parse_mix_exs(const SourceFile& f, FileFacts& out);

// ---- lockfiles
void parse_package_lock_json(const SourceFile& f, FileFacts& out);
void parse_yarn_lock(const SourceFile& f, FileFacts& out);
void parse_pnpm_lock_yaml(const SourceFile& f, FileFacts& out);
void parse_composer_lock(const SourceFile& f, FileFacts& out);
void parse_cargo_lock(const SourceFile& f, FileFacts& out);
void parse_poetry_or_uv_lock(const SourceFile& f, FileFacts& out);
void parse_go_sum(const SourceFile& f, FileFacts& out);
void parse_gemfile_lock(const SourceFile& f, FileFacts& out);
void parse_mix_lock(const SourceFile& f, FileFacts& out);
void parse_packages_lock_json(const SourceFile& f, FileFacts& out);

//! The key two names of one ecosystem are compared by: PyPI's normalised name
//! (PEP 503), lower case where the registry ignores case (NuGet, Packagist,
//! CMake package names, RubyGems), else the name itself.
std::string match_key(std::string_view ecosystem, std::string_view name);

}  // namespace isb::analyzer::deps
