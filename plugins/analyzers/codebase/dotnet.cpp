// dotnet.cpp: .NET projects: a directory with a solution (*.sln) or, outside
// any solution's tree, a project file (*.csproj, *.fsproj, *.vbproj). Project
// files are read with pugixml to find the test projects.
#include <pugixml.hpp>

#include "codebase/ecosystems.hpp"
#include "codebase/manifest_text.hpp"

namespace isb::analyzer {

namespace {

bool is_project_file(const std::string& name) {
  return ends_with(name, ".csproj") || ends_with(name, ".fsproj") || ends_with(name, ".vbproj");
}

// Evidence that a project file is a test project: the test SDK package that
// `dotnet test` needs, or an explicit <IsTestProject>true</IsTestProject>.
std::optional<Evidence> test_project_evidence(const std::string& rel_file, const std::string& text,
                                              std::vector<std::string>& warnings) {
  pugi::xml_document doc;
  if (std::string err = parse_xml_with_line(text, doc); !err.empty()) {
    warnings.push_back(rel_file + ": invalid XML, " + err +
                       " (fix the file; the project is reported without it)");
    return std::nullopt;
  }
  for (pugi::xpath_node n : doc.select_nodes("//PackageReference")) {
    const std::string inc = n.node().attribute("Include").as_string();
    if (inc == "Microsoft.NET.Test.Sdk") return Evidence{rel_file, "PackageReference " + inc};
  }
  for (pugi::xpath_node n : doc.select_nodes("//IsTestProject"))
    if (trim(n.node().text().as_string()) == "true")
      return Evidence{rel_file, "<IsTestProject>true</IsTestProject>"};
  return std::nullopt;
}

}  // namespace

bool has_dotnet_marker(const std::set<std::string>& files) {
  for (const auto& f : files)
    if (ends_with(f, ".sln") || is_project_file(f)) return true;
  return false;
}

Project detect_dotnet(const TreeView& tree, const std::string& dir, std::vector<std::string>& warnings) {
  Project p;
  p.path = dir;
  p.ecosystem = "dotnet";
  p.package_manager = "dotnet";
  const auto& files = tree.walk.dirs.at(dir).files;
  std::vector<std::string> solutions, projects;
  for (const auto& f : files) {
    if (ends_with(f, ".sln")) solutions.push_back(f);
    if (is_project_file(f)) projects.push_back(f);
  }
  // The file the dotnet commands act on: with several in one directory the CLI
  // refuses to guess (MSB1011), so it is named; a solution wins over a project.
  const std::vector<std::string>& primary = solutions.empty() ? projects : solutions;
  const std::string target = primary.size() > 1 ? primary.front() : "";
  p.package_manager_reason = solutions.empty() ? projects.front() + " is an MSBuild project (dotnet CLI)"
                                               : solutions.front() + " is a .NET solution (dotnet CLI)";
  p.manifests = solutions;
  p.manifests.insert(p.manifests.end(), projects.begin(), projects.end());
  if (files.count("packages.lock.json")) p.lockfiles.push_back("packages.lock.json");
  for (const auto& m : p.manifests)
    p.evidence.push_back({join_rel(dir, m), ends_with(m, ".sln") ? ".NET solution" : "MSBuild project file"});

  std::vector<Evidence> ev{
      {join_rel(dir, primary.front()), solutions.empty() ? "MSBuild project file" : ".NET solution"}};
  auto argv = [&](std::vector<std::string> a) {
    if (!target.empty()) a.push_back(target);
    return a;
  };
  p.commands.push_back({"install", make_command(argv({"dotnet", "restore"}), dir, "ecosystem_default",
                                                kConfidenceDirect, ev)});
  p.commands.push_back({"build", make_command(argv({"dotnet", "build", "--no-restore"}), dir,
                                              "ecosystem_default", kConfidenceDirect, ev)});

  // dotnet test succeeds doing nothing when no test project exists, so the
  // command is only as strong as the evidence of a test project under dir.
  std::optional<Evidence> test;
  for (const auto& [d, listing] : tree.walk.dirs) {
    if (d != dir && dir != "." && !starts_with(d, dir + "/")) continue;
    for (const auto& f : listing.files) {
      if (!is_project_file(f)) continue;
      if (const std::string* text = tree.text(d, f))
        if ((test = test_project_evidence(join_rel(d, f), *text, warnings))) break;
    }
    if (test) break;
  }
  p.commands.push_back(
      {"test", make_command(argv({"dotnet", "test", "--no-build"}), dir, "ecosystem_default",
                            test ? kConfidenceDirect : kConfidenceWeak, {test ? *test : ev.front()})});
  return p;
}

}  // namespace isb::analyzer
