// Self-tests of pressure by time (issue 21): an op workload's input shapes follow the run's seed
// (varied per thread and input, the same for the same seed: replayable), forked cold rounds keep
// going after a crashed round and name its signal, and the PCT schedule lets the top threads run.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <string>
#include <vector>

#include "torchstress/forked_rounds.h"
#include "torchstress/pct_schedule.h"
#include "torchstress/results.h"
#include "torchstress/variety.h"
#include "torchstress/workloads.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(selftest);

// The shapes thread t's inputs take under `seed` (aten::relu returns its input's shape).
std::vector<std::vector<int64_t>> ShapesUnder(uint64_t seed, int threads, int inputs) {
  auto w = make_workload("op:aten::relu", c10::Device(c10::kCPU));
  dynamic_cast<Varied&>(*w).vary(VarietySpec{true, seed});
  w->prepare(threads, inputs);
  std::vector<std::vector<int64_t>> shapes;
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < inputs; ++i) {
      w->use_input(t, i);
      shapes.push_back(w->run_once(t).sizes().vec());
    }
  }
  return shapes;
}

TEST(Variety, OpInputsTakeRaggedShapesThatTheSeedReplays) {
  const auto a = ShapesUnder(42, 8, 4);
  const std::set<std::vector<int64_t>> distinct(a.begin(), a.end());
  EXPECT_GE(distinct.size(), 4u) << "32 inputs should take several of the pool's 12 shapes";
  EXPECT_LT(distinct.size(), a.size()) << "some inputs should share a shape (a shape-keyed cache gets hits too)";
  EXPECT_EQ(ShapesUnder(42, 8, 4), a) << "the same seed must give the same shapes";
  EXPECT_NE(ShapesUnder(43, 8, 4), a) << "another seed should give other shapes";
}

TEST(ForkedRounds, ACrashedRoundIsRecordedAndTheOthersStillRun) {
  RoundsSpec spec;
  spec.rounds = 3;
  const RoundsSummary s = run_forked_rounds(spec, [](int round) -> std::string {
    if (round == 2) std::raise(SIGSEGV);
    return round == 3 ? "wrong value in thread 0, iteration 0" : "";
  });
  ASSERT_EQ(s.total, 3);
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.rounds[1].status, RoundStatus::kCrashed);
  EXPECT_THAT(s.rounds[1].detail, ::testing::HasSubstr("SIGSEGV"));
  EXPECT_EQ(s.rounds[2].status, RoundStatus::kFailed);
  EXPECT_THAT(s.rounds[2].detail, ::testing::HasSubstr("wrong value in thread 0"));
}

TEST(ForkedRounds, WithABudgetRoundsGoOnUntilItIsSpentOrOneFails) {
  RoundsSpec spec;
  spec.rounds = 2;
  spec.budget = std::chrono::duration<double>(0.3);
  const RoundsSummary clean = run_forked_rounds(spec, [](int) { return std::string(); });
  EXPECT_GE(clean.total, 2);
  EXPECT_EQ(clean.passed, clean.total);
  const RoundsSummary caught = run_forked_rounds(spec, [](int round) { return round == 3 ? std::string("caught") : ""; });
  EXPECT_EQ(caught.total, 3) << "a failed round ends the budget's rounds";
}

TEST(Pct, OnlyTheHighestPriorityThreadsPassABoundaryAtOnce) {
  PctSpec spec;
  spec.depth = 1;  // no change points: one priority order per epoch
  spec.seed = 7;
  spec.running = 1;
  spec.epoch = std::chrono::duration<double>(60.0);
  spec.max_wait = std::chrono::duration<double>(0.0);  // never wait: this test only asks who may run
  PctSchedule pct(spec, 4);
  // With max_wait 0 every call returns at once; the schedule's state is what is checked.
  for (int t = 0; t < 4; ++t) pct.at_op_boundary(t);
  EXPECT_EQ(pct.epochs(), 1);
  EXPECT_EQ(pct.change_points_taken(), 0);
}

}  // namespace
}  // namespace torchstress
