// undo_stack_test.cpp: the cleanups of a multi-step creation
// (core/src/workspaces/undo_stack.hpp): newest first, only on failure, each
// once, and a failing cleanup does not stop the others.
#include "workspaces/undo_stack.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

using isb::workspaces::UndoStack;

namespace {

TEST(UndoStack, DestructionUndoesWhatWasMadeNewestFirst) {
  std::vector<std::string> undone;
  {
    UndoStack undo;
    undo.push("meta", [&] { undone.push_back("meta"); });
    undo.push("workspace", [&] { undone.push_back("workspace"); });
    undo.push("sandbox", [&] { undone.push_back("sandbox"); });
    EXPECT_EQ(undo.size(), 3u);
  }
  EXPECT_EQ(undone, (std::vector<std::string>{"sandbox", "workspace", "meta"}));
}

TEST(UndoStack, CommitKeepsEverything) {
  std::vector<std::string> undone;
  {
    UndoStack undo;
    undo.push("meta", [&] { undone.push_back("meta"); });
    undo.commit();
    EXPECT_EQ(undo.size(), 0u);
  }
  EXPECT_TRUE(undone.empty());
}

TEST(UndoStack, AnExplicitUndoRunsEachActionOnceAndLeavesNothingForTheDestructor) {
  int runs = 0;
  {
    UndoStack undo;
    undo.push("count", [&] { ++runs; });
    undo.undo();
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(undo.size(), 0u);
  }
  EXPECT_EQ(runs, 1);
}

TEST(UndoStack, AFailingActionDoesNotStopTheOlderOnes) {
  std::vector<std::string> undone;
  UndoStack undo;
  undo.push("older", [&] { undone.push_back("older"); });
  undo.push("throws", [] { throw std::runtime_error("disk gone"); });
  undo.push("newer", [&] { undone.push_back("newer"); });
  undo.undo();
  EXPECT_EQ(undone, (std::vector<std::string>{"newer", "older"}));
}

TEST(UndoStack, StepsPushedAfterAnUndoAreUndoneOnTheirOwn) {
  std::vector<std::string> undone;
  UndoStack undo;
  undo.push("first try", [&] { undone.push_back("first try"); });
  undo.undo();
  undo.push("second try", [&] { undone.push_back("second try"); });
  undo.undo();
  EXPECT_EQ(undone, (std::vector<std::string>{"first try", "second try"}));
}

}  // namespace
