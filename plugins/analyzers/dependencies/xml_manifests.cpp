// xml_manifests.cpp: the two XML manifests, through pugixml: Maven's pom.xml
// (dependencies with scope and optional, the parent, ${property} versions)
// and .NET's *.csproj (PackageReference), plus NuGet's packages.lock.json.
#include <boost/json.hpp>
#include <map>
#include <pugixml.hpp>

#include "dependencies/dependency.hpp"
#include "dependencies/source_text.hpp"

namespace isb::analyzer::deps {

namespace {

bool load_xml(const SourceFile& f, pugi::xml_document& doc, FileFacts& out) {
  pugi::xml_parse_result r = doc.load_buffer(f.text.data(), f.text.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) {
    out.warnings.push_back(
        malformed(f, line_at(f.text, static_cast<size_t>(r.offset)), std::string("invalid XML: ") + r.description()));
    return false;
  }
  return true;
}

int node_line(const SourceFile& f, const pugi::xml_node& n) {
  std::ptrdiff_t off = n.offset_debug();
  return off < 0 ? 0 : line_at(f.text, static_cast<size_t>(off));
}

std::string text_of(const pugi::xml_node& n, const char* child) {
  return std::string(trim(n.child(child).text().as_string()));
}

// Replaces ${name} with the pom's properties; unknown ones stay as written.
std::string expand(std::string s, const std::map<std::string, std::string>& props) {
  for (int guard = 0; guard < 10; ++guard) {
    size_t open = s.find("${");
    size_t close = open == std::string::npos ? open : s.find('}', open);
    if (close == std::string::npos) break;
    auto it = props.find(s.substr(open + 2, close - open - 2));
    if (it == props.end()) break;
    s.replace(open, close - open + 1, it->second);
  }
  return s;
}

// A Maven version without range brackets is the exact version Maven uses.
std::string exact_maven_version(const std::string& v) {
  return v.empty() || v.find_first_of("[](),$") != std::string::npos ? std::string() : v;
}

Scope maven_scope(std::string_view s) {
  if (s == "test") return Scope::kTest;
  if (s == "provided" || s == "system" || s == "import") return Scope::kBuild;
  return Scope::kRuntime;  // compile (the default), runtime
}

}  // namespace

void parse_pom_xml(const SourceFile& f, FileFacts& out) {
  pugi::xml_document doc;
  if (!load_xml(f, doc, out)) return;
  pugi::xml_node project = doc.child("project");
  if (!project) {
    out.warnings.push_back(malformed(f, 1, "the root element is not <project>"));
    return;
  }
  std::map<std::string, std::string> props;
  for (pugi::xml_node p : project.child("properties").children()) props[p.name()] = trim(p.text().as_string());
  const pugi::xml_node parent = project.child("parent");
  props["project.parent.version"] = text_of(parent, "version");
  props["project.version"] = project.child("version") ? text_of(project, "version") : text_of(parent, "version");
  if (parent && parent.child("artifactId")) {
    // The parent (spring-boot-starter-parent, say) fixes the versions of the
    // dependencies it manages, so it is a build input of its own.
    Declared d;
    d.ecosystem = "maven";
    d.name = text_of(parent, "groupId") + ":" + text_of(parent, "artifactId");
    d.constraint = expand(text_of(parent, "version"), props);
    d.pinned = exact_maven_version(d.constraint);
    d.scope = Scope::kBuild;
    d.file = f.rel;
    d.line = node_line(f, parent);
    out.declared.push_back(std::move(d));
  }
  for (pugi::xml_node dep : project.child("dependencies").children("dependency")) {
    Declared d;
    d.ecosystem = "maven";
    d.name = text_of(dep, "groupId") + ":" + text_of(dep, "artifactId");
    d.constraint = expand(text_of(dep, "version"), props);
    d.pinned = exact_maven_version(d.constraint);
    d.scope = maven_scope(text_of(dep, "scope"));
    if (text_of(dep, "optional") == "true") d.scope = Scope::kOptional;
    d.file = f.rel;
    d.line = node_line(f, dep);
    out.declared.push_back(std::move(d));
  }
}

void parse_csproj(const SourceFile& f, FileFacts& out) {
  pugi::xml_document doc;
  if (!load_xml(f, doc, out)) return;
  for (pugi::xpath_node x : doc.select_nodes("//PackageReference")) {
    pugi::xml_node ref = x.node();
    Declared d;
    d.ecosystem = "nuget";
    d.name = ref.attribute("Include").as_string();
    if (d.name.empty()) continue;  // <PackageReference Update=...> adjusts another reference
    d.constraint = ref.attribute("Version") ? ref.attribute("Version").as_string() : text_of(ref, "Version");
    d.pinned = exact_maven_version(d.constraint);  // NuGet's "1.2.3" is a minimum, but restore picks it exactly
    // PrivateAssets="all": analyzers and build tools that do not flow to consumers.
    std::string priv = ref.attribute("PrivateAssets") ? ref.attribute("PrivateAssets").as_string()
                                                      : text_of(ref, "PrivateAssets");
    d.scope = priv == "all" || priv == "All" ? Scope::kBuild : Scope::kRuntime;
    d.file = f.rel;
    d.line = node_line(f, ref);
    out.declared.push_back(std::move(d));
  }
}

void parse_packages_lock_json(const SourceFile& f, FileFacts& out) {
  auto doc = parse_json_object(f, out);
  if (!doc) return;
  auto* frameworks = doc->if_contains("dependencies");
  if (!frameworks || !frameworks->is_object()) return;
  std::map<std::string, bool> seen;
  for (const auto& [tfm, deps] : frameworks->as_object()) {
    if (!deps.is_object()) continue;
    for (const auto& [name, e] : deps.as_object()) {
      if (!e.is_object() || seen[std::string(name)]) continue;
      seen[std::string(name)] = true;
      Locked l;
      l.ecosystem = "nuget";
      l.name = name;
      l.version = json_string(e.as_object(), "resolved");
      l.local = json_string(e.as_object(), "type") == "Project";
      l.file = f.rel;
      l.line = json_key_line(f.text, tfm, name);
      out.locked.push_back(std::move(l));
    }
  }
}

}  // namespace isb::analyzer::deps
