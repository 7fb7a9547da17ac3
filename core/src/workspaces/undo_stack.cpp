// undo_stack.cpp: running the cleanups of a failed creation, newest first.
#include "workspaces/undo_stack.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace isb::workspaces {

void UndoStack::undo() {
  // Taken out first: an action that pushes (it should not) cannot loop.
  std::vector<Action> pending = std::move(actions_);
  actions_.clear();
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    try {
      if (it->run) it->run();
    } catch (const std::exception& e) {
      spdlog::warn("undoing '{}' failed: {}", it->what, e.what());
    } catch (...) {
      spdlog::warn("undoing '{}' failed", it->what);
    }
  }
}

}  // namespace isb::workspaces
