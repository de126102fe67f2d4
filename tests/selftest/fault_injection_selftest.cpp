// Proof that the suite fails when it should: each fault class is injected into the suite's own
// battery binary (run as a child process, with a deadline) and the child must FAIL with the right
// classification in its output. The same runs without injection pass.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "torchstress/device.h"
#include "torchstress/exit_codes.h"
#include "torchstress/subprocess.h"

namespace torchstress {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kDeadlineSeconds = 120;  // a child past this means the suite itself hung

// Small but real workloads on the CPU, so each child takes seconds.
const std::map<std::string, std::string> kSmallRun = {{"TORCHSTRESS_DEVICE", "cpu"},
                                                      {"TORCHSTRESS_LAYERNORM_ITERATIONS", "20"},
                                                      {"TORCHSTRESS_TRANSFORMER_ITERATIONS", "3"},
                                                      {"TORCHSTRESS_QUICK_ROUNDS", "2"},
                                                      {"TORCHSTRESS_STALL_SECONDS", "2"},
                                                      {"TORCHSTRESS_RESULTS_DIR", ""},
                                                      {"TORCHSTRESS_INJECT", ""},
                                                      {"TORCHSTRESS_REQUIRE", ""},
                                                      {"TORCHSTRESS_INJECT_ROUND", ""}};

ChildResult RunBattery(const std::string& test, std::map<std::string, std::string> env) {
  for (const auto& [k, v] : kSmallRun) env.emplace(k, v);
  if (env["TORCHSTRESS_RESULTS_DIR"].empty())
    env["TORCHSTRESS_RESULTS_DIR"] = ::testing::TempDir() + "torchstress-selftest";
  ChildResult r = run_child({TORCHSTRESS_BATTERY_BINARY, "--gtest_filter=" + test}, env,
                            std::chrono::duration<double>(kDeadlineSeconds));
  EXPECT_FALSE(r.timed_out) << "the child outlived its deadline; output:\n" << r.output;
  return r;
}

TEST(FaultInjection, CleanRunPasses) {
  ChildResult r = RunBattery("Stress.LayerNorm", {});
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\n" << r.output;
}

TEST(FaultInjection, ThrowIsReportedAsAnExceptionWithThreadAndIteration) {
  ChildResult r = RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "throw@2:3"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("exception in thread 2, iteration 3 (op layernorm on cpu): injected fault"));
}

TEST(FaultInjection, WrongValueIsReportedWithMaxAbsDiff) {
  ChildResult r = RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "wrong@5:12"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("wrong value in thread 5, iteration 12 (op layernorm on cpu): max abs diff 1"));
}

TEST(FaultInjection, NanIsReportedAsNonFinite) {
  ChildResult r = RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "nan@1:4"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("NaN/Inf in thread 1, iteration 4 (op layernorm on cpu): 1 of 131072 values"));
}

// Every line of a results folder, concatenated (the report reads the same files).
std::string ReadResults(const std::string& dir) {
  std::string all;
  for (const auto& f : list_files(dir)) {
    std::ifstream in(f);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST(FaultInjection, HangIsNamedByTheWatchdogWithinTheStallDeadlineAndRecordedBeforeExit) {
  const std::string dir = ::testing::TempDir() + "torchstress-selftest-hang";
  remove_tree(dir);
  ChildResult r = RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "hang@2:7"}, {"TORCHSTRESS_RESULTS_DIR", dir}});
  EXPECT_EQ(r.exit_code, kExitStalled) << r.describe() << "\n" << r.output;
  EXPECT_THAT(r.output, HasSubstr("thread 2 stuck at iteration 7 in layernorm"));
  EXPECT_LT(r.seconds, 60) << "the watchdog, not a CTest timeout, must end a hang";
  // The stall reaches the results through the run's sink as a typed record.
  const std::string results = ReadResults(dir);
  EXPECT_THAT(results, HasSubstr("\"status\":\"stalled\""));
  EXPECT_THAT(results, HasSubstr("{\"kind\":\"stall\",\"thread\":2,\"iteration\":7,\"op\":\"layernorm\",\"device\":\"cpu\""));
  remove_tree(dir);
}

TEST(FaultInjection, RaceOnASharedScratchTensorGivesWrongValuesOnlyUnderConcurrency) {
  ChildResult racy =
      RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "race"}, {"TORCHSTRESS_LAYERNORM_ITERATIONS", "50"}});
  EXPECT_EQ(racy.exit_code, 1) << racy.describe() << "\n" << racy.output;
  EXPECT_THAT(racy.output, HasSubstr("wrong value in thread"));
  ChildResult alone = RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "race"}, {"TORCHSTRESS_THREADS", "1"}});
  EXPECT_EQ(alone.exit_code, 0) << "one thread cannot race with itself:\n" << alone.output;
}

TEST(FaultInjection, SegfaultInOneRoundIsClassifiedAndTheOtherRoundsStillRun) {
  ChildResult r = RunBattery("TransformerEncoder.IsolatedRoundsQuick",
                             {{"TORCHSTRESS_INJECT", "segv@0:1"}, {"TORCHSTRESS_INJECT_ROUND", "2"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("round 1 passed"));
  EXPECT_THAT(r.output, HasSubstr("round 2 crashed: SIGSEGV"));
  EXPECT_THAT(r.output, HasSubstr("Passed 1/2"));
}

TEST(FaultInjection, AbortInARoundIsClassifiedAsSigabrt) {
  ChildResult r = RunBattery("TransformerEncoder.IsolatedRoundsQuick",
                             {{"TORCHSTRESS_INJECT", "abort@3:0"}, {"TORCHSTRESS_INJECT_ROUND", "1"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("round 1 crashed: SIGABRT"));
  EXPECT_THAT(r.output, HasSubstr("round 2 passed"));
}

TEST(FaultInjection, HangInARoundIsReportedAsTimedOutNamingTheStuckThread) {
  ChildResult r = RunBattery("TransformerEncoder.IsolatedRoundsQuick",
                             {{"TORCHSTRESS_INJECT", "hang@1:2"}, {"TORCHSTRESS_INJECT_ROUND", "1"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("round 1 timed out: torchstress watchdog"));
  EXPECT_THAT(r.output, HasSubstr("thread 1 stuck at iteration 2 in transformer"));
}

TEST(FaultInjection, KnownCrashTextInARoundNamesTheUpstreamIssue) {
  ChildResult r =
      RunBattery("TransformerEncoder.IsolatedRoundsQuick",
                 {{"TORCHSTRESS_INJECT", "crashsig:mps-commit-committed@0:0"}, {"TORCHSTRESS_INJECT_ROUND", "1"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  // The crash handler's line names the worker; the signature follows.
  EXPECT_THAT(r.output, HasSubstr("round 1 crashed: SIGABRT in thread 0 at iteration 0 in transformer (input 0) (matches "
                                  "pytorch/pytorch#100285"));
}

TEST(BadInput, EachBadKnobExitsWithCode2AndOneLineBeforeAnyTestRuns) {
  const std::vector<std::pair<std::string, std::string>> cases = {{"TORCHSTRESS_DEVICE", "gpu"},
                                                                  {"TORCHSTRESS_THREADS", "-3"},
                                                                  {"TORCHSTRESS_SOAK_SECONDS", "abc"},
                                                                  {"TORCHSTRESS_INJECT", "explode"},
                                                                  {"TORCHSTRESS_REQUIRE", "gpu"}};
  for (const auto& [var, value] : cases) {
    ChildResult r = RunBattery("Stress.LayerNorm", {{var, value}});
    EXPECT_EQ(r.exit_code, kExitUsage) << var << "=" << value << ": " << r.describe();
    EXPECT_THAT(r.output, HasSubstr(var + "='" + value + "' is not accepted; accepted: "));
    EXPECT_THAT(r.output, Not(HasSubstr("[ RUN      ]")));
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

// What a person needs to act on a failure reaches the results: the worker's backtrace, a crashed
// round's stderr tail, the knobs in force and the binary (for the repro line), and provenance.
TEST(FaultInjection, FailuresCarryBacktraceStderrTailReproFieldsAndProvenanceIntoTheResults) {
  const std::string dir = ::testing::TempDir() + "torchstress-selftest-actionable";
  remove_tree(dir);
  RunBattery("Stress.LayerNorm", {{"TORCHSTRESS_INJECT", "wrong@1:3"}, {"TORCHSTRESS_RESULTS_DIR", dir}});
  const std::string worker = ReadResults(dir);
  EXPECT_THAT(worker, HasSubstr("\"backtraces\":[\"wrong value in thread 1, iteration 3"));
  EXPECT_THAT(worker, HasSubstr("\"knobs\":{"));
  EXPECT_THAT(worker, HasSubstr("\"TORCHSTRESS_INJECT\":\"wrong@1:3\""));
  EXPECT_THAT(worker, HasSubstr("\"executable\":\"" TORCHSTRESS_BATTERY_BINARY "\""));
  EXPECT_THAT(worker, HasSubstr("\"provenance\":{\"torch_version\":"));
  remove_tree(dir);
  // A round that prints before it dies (a recorded upstream crash text, then abort).
  RunBattery("TransformerEncoder.IsolatedRoundsQuick", {{"TORCHSTRESS_INJECT", "crashsig:mps-commit-committed@0:0"},
                                                        {"TORCHSTRESS_INJECT_ROUND", "1"},
                                                        {"TORCHSTRESS_RESULTS_DIR", dir}});
  bool crashed_round_has_tail = false;  // line by line: results lines are long (show_config)
  std::istringstream lines(ReadResults(dir));
  for (std::string line; std::getline(lines, line);) {
    const auto tail = line.find("\"stderr_tail\":\"");
    if (line.find("\"status\":\"crashed\"") != std::string::npos && tail != std::string::npos) {
      crashed_round_has_tail = line.compare(tail + 15, 1, "\"") != 0;
    }
  }
  EXPECT_TRUE(crashed_round_has_tail) << "no crashed round with a stderr tail in " << dir;
}

// A run asked for a device this machine lacks stops before any test, so it cannot pass by skipping.
TEST(RequiredBackend, RequestedDeviceThatIsAbsentExitsWithCode2AndOneLineBeforeAnyTest) {
  std::vector<std::string> absent = {"cuda:99"};  // no machine here has 100 cards
  if (!availability().cuda) absent.push_back("cuda");
  if (!availability().mps) absent.push_back("mps");
  for (const auto& device : absent) {
    ChildResult r = RunBattery("ParallelCPU.TwoThreads", {{"TORCHSTRESS_DEVICE", device}});
    EXPECT_EQ(r.exit_code, kExitUsage) << device << ": " << r.describe() << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("TORCHSTRESS_DEVICE='" + device + "' is not available here"));
    EXPECT_THAT(r.output, Not(HasSubstr("[ RUN      ]")));
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

// TORCHSTRESS_REQUIRE turns each absent backend's loud skip into a failure naming the backend.
TEST(RequiredBackend, RequiredButAbsentBackendFailsItsTestsInsteadOfSkipping) {
  std::vector<std::pair<std::string, std::string>> cases;  // backend, a test of that backend
  if (!availability().cuda) cases.emplace_back("cuda", "ParallelCUDA.TwoThreads");
  if (!availability().mps) cases.emplace_back("mps", "ParallelMPS.TwoThreads");
  if (availability().cuda_devices < 2) cases.emplace_back("multigpu", "MultiGPU.*");
  ASSERT_FALSE(cases.empty()) << "every backend is present: nothing to prove on this machine";
  for (const auto& [backend, test] : cases) {
    ChildResult skipped = RunBattery(test, {});
    EXPECT_EQ(skipped.exit_code, 0) << backend << ": " << skipped.output;
    EXPECT_THAT(skipped.output, HasSubstr("[  SKIPPED ]"));
    ChildResult failed = RunBattery(test, {{"TORCHSTRESS_REQUIRE", backend}});
    EXPECT_EQ(failed.exit_code, 1) << backend << ": " << failed.describe() << "\n" << failed.output;
    EXPECT_THAT(failed.output, HasSubstr("required backend " + backend + " (TORCHSTRESS_REQUIRE) cannot run here"));
    EXPECT_THAT(failed.output, HasSubstr("[  FAILED  ]"));
  }
}

}  // namespace
}  // namespace torchstress
