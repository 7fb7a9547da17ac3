// ci_commands.hpp: the commands a repository's CI runs, read from GitHub
// Actions workflows (.github/workflows/*.yml|yaml, steps[].run) and GitLab CI
// (.gitlab-ci.yml, before_script/script), each classified by intent.
//
//   std::vector<CiCommand> cmds;
//   read_github_workflow(".github/workflows/ci.yml", text, cmds, warnings);
//   // cmds[i].kind == "test" for "python -m pytest -q", cwd from working-directory or "cd x &&"
#pragma once

#include <string>
#include <vector>

namespace isb::analyzer {

struct CiCommand {
  std::string file;  // relative to the analysed root
  int line = 0;      // 1-based line of the command in file
  std::string job;
  std::string step;  // step name (GitHub) or script section (GitLab)
  std::string run;   // one command line, continuations joined
  std::string cwd = ".";
  std::string kind;       // install|build|test|lint|format|run, or "" when not recognised
  std::string ecosystem;  // the tool's ecosystem (node, python, go, ...), or ""
};

//! Appends the run: lines of one GitHub Actions workflow. Invalid YAML becomes a
//! warning "file:line: invalid YAML: ..." and nothing is appended.
void read_github_workflow(const std::string& file, const std::string& text, std::vector<CiCommand>& out,
                          std::vector<std::string>& warnings);

//! Appends the script lines of a .gitlab-ci.yml (same warning rule).
void read_gitlab_ci(const std::string& file, const std::string& text, std::vector<CiCommand>& out,
                    std::vector<std::string>& warnings);

//! Classifies one command line: sets kind and ecosystem ("" when unknown), and
//! moves a leading "cd DIR &&" into cwd.
void classify_ci_command(CiCommand& c);

}  // namespace isb::analyzer
