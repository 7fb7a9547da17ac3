// intents.hpp: what a task sentence asks for: phases, backtick commands and
// an optional project scope.
#pragma once

#include <string>
#include <vector>

namespace isb::planner {

//! Phases in the order their steps run.
enum class Phase { Clean, Install, Build, Format, Lint, Test, Run, Custom };

//! "clean", "install", "build", "format", "lint", "test", "run", "custom".
const char* phase_name(Phase p);

struct Intents {
  std::vector<Phase> phases;                 // distinct, ordered by phase; never Custom
  std::vector<std::string> custom_commands;  // `...` commands, in order of mention
  std::vector<size_t> scope;                 // indexes into project_names given to find_intents
  //! Phases the task says not to run ("skip the install", "without
  //! building", "don't lint"): never in phases, never implied.
  std::vector<Phase> excluded;
  //! "just"/"only" next to an intent ("just run the tests", "tests only"):
  //! exactly what was asked, no implied phases.
  bool only_asked = false;
};

//! Finds the intents in task (case-insensitive, word-based). project_names[i]
//! lists the lowercase names project i can be called by (its path, the last
//! component of the path, its "name"); "of X" / "in X" / "for X" naming one of
//! them restricts the plan to that project, and those words are not intents.
//! The modifier words (skip, without, no, not, don't, never; just, only) are
//! one table in intents.cpp, copied in plugins/planners/README.md.
Intents find_intents(const std::string& task, const std::vector<std::vector<std::string>>& project_names);

}  // namespace isb::planner
