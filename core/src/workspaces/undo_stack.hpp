// undo_stack.hpp: the cleanups of a multi-step creation, run in reverse
// order when it fails part way, dropped when it succeeds.
//
//   UndoStack undo;
//   make_dir(meta);
//   undo.push("remove the meta dir", [&] { remove(meta); });
//   if (!copy()) return error;  // undo's destructor removes meta
//   undo.commit();              // done: nothing is undone
//
// Each step pushes its cleanup right after it made something, so that a
// failure later undoes exactly what exists, newest first. An action must not
// throw (one that does is logged and the rest still run).
//
// Ownership: owns the actions; they may refer to locals that outlive the
// stack. Threading: one thread.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace isb::workspaces {

class UndoStack {
 public:
  UndoStack() = default;
  //! Undoes what is left unless commit() was called.
  ~UndoStack() { undo(); }
  UndoStack(const UndoStack&) = delete;
  UndoStack& operator=(const UndoStack&) = delete;

  //! Adds the cleanup of something just made; what names it in the log.
  void push(std::string what, std::function<void()> action) {
    actions_.push_back({std::move(what), std::move(action)});
  }
  //! Runs every pending action, newest first, and forgets them.
  void undo();
  //! Success: forgets the actions without running them.
  void commit() { actions_.clear(); }
  size_t size() const { return actions_.size(); }

 private:
  struct Action {
    std::string what;
    std::function<void()> run;
  };
  std::vector<Action> actions_;
};

}  // namespace isb::workspaces
