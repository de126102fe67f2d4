// Self-tests of pressure by time (issue 21): an op workload's input shapes and dtypes follow the
// run's seed (varied per thread and input, the same for the same seed: replayable), the budget's
// warm parts run under their explorers, quiet periods silence the noise, forked cold rounds keep
// going after a crashed round and name its signal, and the PCT schedule lets the top threads run.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "torchstress/forked_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/pct_schedule.h"
#include "torchstress/pressure.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/schedule_noise.h"
#include "torchstress/results.h"
#include "torchstress/variety.h"
#include "torchstress/workloads.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(selftest);

VarietySpec VariedBy(uint64_t seed) {
  VarietySpec v;
  v.on = true;
  v.seed = seed;
  return v;
}

// The shapes thread t's inputs take under `seed` (aten::relu returns its input's shape).
std::vector<std::vector<int64_t>> ShapesUnder(uint64_t seed, int threads, int inputs) {
  auto w = make_workload("op:aten::relu", c10::Device(c10::kCPU));
  dynamic_cast<Varied&>(*w).vary(VariedBy(seed));
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

// The dtypes thread t's inputs take once the op's accepted dtypes are probed.
std::vector<c10::ScalarType> DtypesOf(const std::string& workload, uint64_t seed, std::vector<c10::ScalarType>* probed) {
  auto w = make_workload(workload, c10::Device(c10::kCPU));
  auto& varied = dynamic_cast<Varied&>(*w);
  const VarietySpec v = varied.probed(VariedBy(seed));
  *probed = v.dtypes;
  varied.vary(v);
  w->prepare(8, 4);
  std::vector<c10::ScalarType> dtypes;
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 4; ++i) {
      w->use_input(t, i);
      dtypes.push_back(w->run_once(t).scalar_type());
    }
  }
  return dtypes;
}

TEST(Variety, OpInputsTakeTheDtypesTheOpAcceptsAndThreadZerosFirstStaysFloat32) {
  std::vector<c10::ScalarType> accepted;
  const auto a = DtypesOf("op:aten::relu", 42, &accepted);
  // float32 and float64 relu exist on every LibTorch; bfloat16 and float16 on the CPU only on newer ones.
  ASSERT_GE(accepted.size(), 2u);
  EXPECT_EQ(accepted[0], at::kFloat);
  EXPECT_EQ(accepted[1], at::kDouble);
  EXPECT_THAT(dtype_list_text(accepted), ::testing::StartsWith("float32, float64"));
  EXPECT_EQ(a.front(), at::kFloat) << "the CPU cross-check's input (thread 0, input 0) keeps float32";
  const std::set<c10::ScalarType> drawn(a.begin(), a.end());
  EXPECT_GE(drawn.size(), 2u) << "32 inputs draw several dtypes";
  for (const auto d : drawn) EXPECT_THAT(accepted, ::testing::Contains(d)) << "only accepted dtypes are drawn";
  std::vector<c10::ScalarType> again;
  EXPECT_EQ(DtypesOf("op:aten::relu", 42, &again), a) << "the same seed must give the same dtypes";
  // An op that takes float32 only (the zoo's checked_input; here an integer-only op's refusal is the
  // same): aten::bitwise_not rejects every floating dtype, so nothing is drawn and inputs stay float32.
  auto w = make_workload("op:aten::bitwise_not", c10::Device(c10::kCPU));
  EXPECT_TRUE(dynamic_cast<Varied&>(*w).probed(VariedBy(1)).dtypes.empty());
  EXPECT_EQ(dtype_list_text({}), "float32");
}

// The budget's warm parts, each under its own explorer with SCHEDULE=mixed (the default), one
// explorer in all three otherwise; the free-running part has neither noise nor PCT priorities.
TEST(Pressure, EachWarmPartRunsUnderItsExplorerAndOnePolicyPutsOneEverywhere) {
  auto parts = [](SchedulePolicy policy) {
    ScopedKnobs k([policy](Knobs& k) {
      k.schedule = policy;
      k.noise = 0.1;
      k.budget = std::chrono::duration<double>(0.2);
    });
    auto w = make_workload("op:aten::relu", c10::Device(c10::kCPU));
    const WarmPressure p = run_warm_pressure(*w, run_spec_from_knobs());
    EXPECT_GT(p.threaded.total_ops, 0);
    EXPECT_GT(p.free.total_ops, 0);
    EXPECT_GT(p.soak.total_ops, 0);
    EXPECT_EQ(p.calls(), p.threaded.total_ops + p.free.total_ops + p.soak.total_ops);
    auto explorer = [](const RunResult& r) { return r.pct.on() ? "pct" : r.noise.on() ? "noise" : "free"; };
    return std::vector<std::string>{explorer(p.threaded), explorer(p.free), explorer(p.soak)};
  };
  EXPECT_THAT(parts(SchedulePolicy::kMixed), ::testing::ElementsAre("noise", "free", "pct"));
  EXPECT_THAT(parts(SchedulePolicy::kFree), ::testing::ElementsAre("free", "free", "free"));
  EXPECT_THAT(parts(SchedulePolicy::kNoise), ::testing::ElementsAre("noise", "noise", "noise"));
  EXPECT_THAT(parts(SchedulePolicy::kPct), ::testing::ElementsAre("pct", "pct", "pct"));
}

TEST(ScheduleNoise, AQuietPeriodSilencesEveryThreadInEveryOtherPeriod) {
  NoiseSpec spec;
  spec.level = 1.0;
  spec.seed = 7;
  EXPECT_FALSE(ScheduleNoise(spec, 0, 8).quiet_now()) << "no quiet period: never quiet";
  spec.quiet_period = std::chrono::milliseconds(5);
  const ScheduleNoise a(spec, 0, 8), b(spec, 5, 8);
  int quiet = 0, loud = 0, disagree = 0;
  for (int i = 0; i < 400; ++i) {
    const bool qa = a.quiet_now();
    (qa ? quiet : loud)++;
    if (qa != b.quiet_now()) ++disagree;  // only at a period's edge, between the two reads
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_GT(quiet, 100);
  EXPECT_GT(loud, 100);
  EXPECT_LT(disagree, 20) << "threads go quiet together (the steady clock decides, not the thread)";
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
