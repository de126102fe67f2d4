// Self-tests of the support library, in-process: the gate, the sink and its matcher, knob parsing,
// warning capture, statistics, and a wrong value injected into one worker failing the check.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "torchstress/results.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/error_sink.h"
#include "torchstress/fault_injection.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/progress.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/start_gate.h"
#include "torchstress/stats.h"
#include "torchstress/warning_capture.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(selftest);  // every suite of this binary

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StartGate, ReleasesEveryWorkerOnlyAfterAllArrived) {
  constexpr int kWorkers = 6;
  StartGate gate(kWorkers, std::chrono::seconds(10));
  std::atomic<int> passed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&, i] {
      if (gate.arrive_and_wait(i)) passed.fetch_add(1);
    });
  }
  std::string missing;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(passed.load(), 0) << "a worker passed the gate before it opened";
  EXPECT_TRUE(gate.open_when_all_arrived(&missing)) << missing;
  for (auto& w : workers) w.join();
  EXPECT_EQ(passed.load(), kWorkers);
}

// An op with a guaranteed minimum duration (sleep_for never returns early), so a timing claim
// holds on a fast GPU box and a loaded 2-core box alike: no measured reference, no race with it.
class SleepingWorkload : public Workload {
 public:
  explicit SleepingWorkload(std::chrono::milliseconds per_op)
      : Workload(c10::Device(c10::kCPU), {0.0, 0.0}, {0.0, 0.0}), per_op_(per_op) {}
  const char* name() const override { return "sleep"; }
  at::Tensor run_once(int) override {
    std::this_thread::sleep_for(per_op_);
    return at::ones({2});
  }

 protected:
  std::vector<at::Tensor> make_inputs(int) const override { return {}; }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>&) override { return at::ones({2}); }

 private:
  std::chrono::milliseconds per_op_;
};

TEST(Runner, ClockStartsWhenTheGateOpensSoAFastSingleThreadRunIsNotOverstated) {
  // One thread, three ops: the worker may finish before open_when_all_arrived() returns. The
  // run's wall time must still cover every op (regression: 1-thread bench rates were inflated
  // 1000x). Each op sleeps 20 ms, so three ops take at least 60 ms on any machine.
  constexpr auto kPerOp = std::chrono::milliseconds(20);
  SleepingWorkload sleepy(kPerOp);
  RunSpec spec;
  spec.threads = 1;
  spec.iterations = 3;
  const double floor_s = 3 * std::chrono::duration<double>(kPerOp).count();
  for (int i = 0; i < 5; ++i) {
    const auto before = std::chrono::steady_clock::now();
    RunResult r = run_workload(sleepy, spec);
    const double outer = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    EXPECT_EQ(r.total_ops, 3);
    EXPECT_LE(r.wall_seconds, outer);
    EXPECT_GE(r.wall_seconds, floor_s) << "the run's clock missed ops it timed";
  }
}

TEST(StartGate, BreakingItUnblocksWaitersWhoThenDoNoWork) {
  StartGate gate(3, std::chrono::seconds(30));
  std::atomic<int> released_without_open{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&, i] {
      if (!gate.arrive_and_wait(i)) released_without_open.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.break_gate("test breaks it");
  for (auto& w : workers) w.join();
  EXPECT_EQ(released_without_open.load(), 2);
  EXPECT_TRUE(gate.broken());
}

TEST(StartGate, DeadlineNamesThePartiesThatNeverArrived) {
  StartGate gate(3, std::chrono::milliseconds(200));
  std::thread only_zero([&] { gate.arrive_and_wait(0); });
  std::string missing;
  EXPECT_FALSE(gate.open_when_all_arrived(&missing));
  only_zero.join();
  EXPECT_THAT(missing, HasSubstr("thread(s) 1, 2"));
}

TEST(StartGate, MainThreadLeavingEarlyReleasesWorkers) {
  StartGate gate(2, std::chrono::seconds(30));
  std::thread worker;
  {
    GateBreaker breaker(gate);
    worker = std::thread([&] { gate.arrive_and_wait(0); });
    // leaves the scope without opening, as a failed ASSERT in the main thread would
  }
  worker.join();  // would hang here without the breaker
  EXPECT_TRUE(gate.broken());
}

ErrorRecord MakeError(ErrorKind kind, int thread, long iteration) {
  ErrorRecord e = ErrorRecord::at(kind, thread, iteration, "mm", "cpu", "detail");
  e.max_abs_diff = 0.5;
  return e;
}

TEST(ErrorSink, MatcherListsEveryErrorGroupedByKind) {
  ErrorSink sink;
  sink.add(MakeError(ErrorKind::kWrongValue, 5, 12));
  sink.add(MakeError(ErrorKind::kException, 2, 3));
  sink.add(MakeError(ErrorKind::kWrongValue, 1, 1));
  ::testing::StringMatchResultListener why;
  EXPECT_FALSE(::testing::ExplainMatchResult(HasNoErrors(), sink.errors(), &why));
  EXPECT_THAT(why.str(), HasSubstr("wrong value (2):"));
  EXPECT_THAT(why.str(), HasSubstr("exception (1):"));
  EXPECT_THAT(why.str(), HasSubstr("wrong value in thread 5, iteration 12 (op mm on cpu): max abs diff 0.5"));
  EXPECT_THAT(why.str(), HasSubstr("exception in thread 2, iteration 3"));
  EXPECT_TRUE(::testing::Matches(HasNoErrors())(std::vector<ErrorRecord>{}));
}

TEST(ErrorSink, KeepsTheFirstRecordsOfEachKindAndCountsAll) {
  ErrorSink sink(2);
  for (int i = 0; i < 5; ++i) sink.add(MakeError(ErrorKind::kNonFinite, 0, i));
  EXPECT_EQ(sink.errors().size(), 2u);
  EXPECT_EQ(sink.total_errors(), 5u);
  EXPECT_EQ(sink.counts_by_kind().at("NaN/Inf"), 5u);
}

TEST(Knobs, RejectBadValuesNamingVariableValueAndWhatIsAccepted) {
  try {
    parse_count("TORCHSTRESS_THREADS", "-3");
    FAIL() << "accepted -3";
  } catch (const KnobError& e) {
    EXPECT_STREQ(e.what(), "torchstress: TORCHSTRESS_THREADS='-3' is not accepted; accepted: a whole number >= 1");
  }
  EXPECT_THROW(parse_count("V", "0"), KnobError);
  EXPECT_THROW(parse_count("V", "8x"), KnobError);
  EXPECT_THROW(parse_seconds("V", "abc"), KnobError);
  EXPECT_THROW(parse_seconds("V", "0"), KnobError);
  EXPECT_THROW(parse_seconds("V", "-5"), KnobError);
  EXPECT_THROW(parse_device_spec("V", "gpu"), KnobError);
  EXPECT_THROW(parse_device_spec("V", "cuda:x"), KnobError);
  EXPECT_THROW(parse_fraction("V", "1.5"), KnobError);
  EXPECT_THROW(parse_stream_policy("V", "many"), KnobError);
  EXPECT_THROW(parse_count_list("V", "1,,2"), KnobError);
  EXPECT_THROW(parse_backend_list("V", "gpu"), KnobError);
  EXPECT_THROW(parse_backend_list("V", "cuda,"), KnobError);
}

TEST(Knobs, AcceptTheDocumentedForms) {
  EXPECT_EQ(parse_count("V", "8"), 8);
  EXPECT_DOUBLE_EQ(parse_seconds("V", "60").count(), 60.0);
  EXPECT_DOUBLE_EQ(parse_seconds("V", "2.5").count(), 2.5);
  EXPECT_DOUBLE_EQ(parse_seconds("V", "500ms").count(), 0.5);
  EXPECT_DOUBLE_EQ(parse_seconds("V", "2m").count(), 120.0);
  EXPECT_DOUBLE_EQ(parse_fraction("V", "90%"), 0.9);
  EXPECT_EQ(parse_device_spec("V", "cuda:1"), "cuda:1");
  EXPECT_EQ(parse_count_list("V", "1,2,4"), (std::vector<long>{1, 2, 4}));
  EXPECT_EQ(parse_backend_list("V", "cuda,multigpu"), (std::vector<std::string>{"cuda", "multigpu"}));
  EXPECT_TRUE(parse_backend_list("V", "").empty());
}

TEST(WarningCapture, RecordsWarningsRaisedOnTheWorkerThreadOnly) {
  ErrorSink sink;
  std::atomic<long> iteration{7};
  std::thread worker([&] {
    ScopedWarningCapture capture(sink, 3, &iteration);
    TORCH_WARN("warning from worker");
  });
  worker.join();
  ASSERT_EQ(sink.warnings().size(), 1u);
  EXPECT_EQ(sink.warnings()[0].thread, 3);
  EXPECT_EQ(sink.warnings()[0].iteration, 7);
  EXPECT_THAT(sink.warnings()[0].message, HasSubstr("warning from worker"));
}

TEST(Stats, ZeroFailuresInTenRoundsBoundTheRateNearTwentySixPercent) {
  EXPECT_NEAR(failure_rate_upper_bound(0, 10), 0.2589, 1e-3);
  EXPECT_NEAR(failure_rate_upper_bound(1, 10), 0.3942, 1e-3);
  EXPECT_EQ(trials_needed_for_bound(0.05), 59);
  EXPECT_EQ(trials_needed_for_bound(0.01), 299);
  auto s = summarize({3.0, 1.0, 2.0});
  EXPECT_DOUBLE_EQ(s.median, 2.0);
  EXPECT_DOUBLE_EQ(s.spread, 0.5);  // IQR (2.5 - 1.5) over the median
  // One descheduled repetition must not make a steady figure look noisy (was (max-min)/median).
  EXPECT_DOUBLE_EQ(summarize({10.0, 10.0, 10.0, 10.0, 1e6}).spread, 0.0);
}

TEST(Watchdog, StallMessageNamesStuckThreadIterationOpAndTheOthers) {
  ProgressBoard board(3);
  board.begin(0, 19, "transformer");
  board.finish_op(0);
  board.done(0);
  board.begin(1, 4, "transformer");
  board.begin(2, 7, "transformer");
  const std::string msg = Watchdog::describe_stall(board, 2, 30.0);
  EXPECT_THAT(msg, HasSubstr("thread 2 stuck at iteration 7 in transformer"));
  EXPECT_THAT(msg, HasSubstr("thread 0: finished after iteration 19"));
  EXPECT_THAT(msg, HasSubstr("thread 1: at iteration 4 in transformer"));
}

TEST(Runner, WrongValueInjectedIntoOneWorkerFailsTheCheckNamingThreadIterationAndOp) {
  auto mm = make_workload("mm", c10::Device(c10::kCPU));
  RunSpec spec;
  spec.threads = 2;
  spec.iterations = 5;
  spec.fault = {FaultKind::kWrong, 1, 3, ""};
  RunResult r = run_workload(*mm, spec);
  EXPECT_EQ(r.failed_ops, 1);
  EXPECT_THAT(r.errors, HasErrorOf(ErrorKind::kWrongValue,
                                   "wrong value in thread 1, iteration 3 (op mm on cpu): max abs diff 1"));
  EXPECT_FALSE(::testing::Matches(HasNoErrors())(r.errors));
}

TEST(Runner, OneShotColdRunRecordsExceptionsAndWrongValuesPerThread) {
  // run_once_released_together: what the first-touch repros use. Thread 1 throws a c10::Error,
  // thread 2 records a wrong value itself; the others pass. Each error names its thread.
  std::atomic<int> ran{0};
  RunSpec spec;
  spec.threads = 4;
  auto errors = run_once_released_together(spec, "first op", c10::Device(c10::kCPU), [&](int t, ErrorSink& sink) {
    ran.fetch_add(1);
    TORCH_CHECK(t != 1, "cold failure in thread ", t);
    if (t == 2) {
      ErrorRecord e = ErrorRecord::at(ErrorKind::kWrongValue, t, 0, "first op", "cpu", "");
      e.max_abs_diff = 1.0;
      sink.add(e);
    }
  });
  EXPECT_EQ(ran.load(), 4);
  ASSERT_EQ(errors.size(), 2u) << format_grouped(errors);
  EXPECT_THAT(errors, HasErrorOf(ErrorKind::kException,
                                 "exception in thread 1, iteration 0 (op first op on cpu): cold failure in thread 1"));
  EXPECT_THAT(errors, HasErrorOf(ErrorKind::kWrongValue, "wrong value in thread 2"));
  for (const auto& e : errors)
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << "backtrace leaked into the message";
}

TEST(Runner, PipelinedModeChecksEveryOutputAfterTheFinalSync) {
  // The bench's baseline: ops back to back, one sync, outputs checked after the clock stops. A
  // wrong value is still caught and named, and the clock covers every op but not the checks.
  SleepingWorkload sleepy(std::chrono::milliseconds(5));
  auto mm = make_workload("mm", c10::Device(c10::kCPU));
  RunSpec spec;
  spec.iterations = 6;
  spec.sync = SyncPolicy::kNone;
  spec.defer_checks = true;
  spec.fault = {FaultKind::kWrong, 0, 4, ""};
  RunResult r = run_workload(*mm, spec);
  EXPECT_EQ(r.total_ops, 6);
  EXPECT_EQ(r.failed_ops, 1);
  EXPECT_THAT(r.errors, HasErrorOf(ErrorKind::kWrongValue, "wrong value in thread 0, iteration 4 (op mm on cpu)"));
  spec.fault = {};
  RunResult timed = run_workload(sleepy, spec);
  EXPECT_GE(timed.wall_seconds, 6 * 0.005) << "the clock missed ops it timed";
  EXPECT_THAT(timed.errors, HasNoErrors());
}

TEST(Knobs, RunSpecFromKnobsCarriesEveryRunSettingAndLimitsInjectionToItsRound) {
  ScopedKnobs scoped([](Knobs& k) {
    k.threads = 3;
    k.gate_timeout = std::chrono::duration<double>(7.0);
    k.stall = std::chrono::duration<double>(9.0);
    k.cuda_streams = StreamPolicy::kPerThread;
    k.sync = SyncPolicy::kDevice;
    k.inject = parse_fault_spec("nan@2:5");
    k.inject_round = 2;
  });
  const RunSpec spec = run_spec_from_knobs();
  EXPECT_EQ(spec.threads, 3);
  EXPECT_DOUBLE_EQ(spec.gate_deadline.count(), 7.0);
  EXPECT_DOUBLE_EQ(spec.stall_deadline.count(), 9.0);
  EXPECT_EQ(spec.cuda_streams, StreamPolicy::kPerThread);
  EXPECT_EQ(spec.sync, SyncPolicy::kDevice);
  EXPECT_EQ(spec.fault.kind, FaultKind::kNone) << "INJECT_ROUND=2 outside any round";
  EXPECT_EQ(run_spec_from_knobs(1).fault.kind, FaultKind::kNone);
  const FaultSpec in_round = run_spec_from_knobs(2).fault;
  EXPECT_EQ(in_round.kind, FaultKind::kNan);
  EXPECT_EQ(in_round.thread, 2);
  EXPECT_EQ(in_round.iteration, 5);
}

TEST(Runner, CleanRunHasNoErrorsAndCountsEveryOp) {
  auto mm = make_workload("mm", c10::Device(c10::kCPU));
  RunSpec spec;
  spec.threads = 3;
  spec.iterations = 4;
  RunResult r = run_workload(*mm, spec);
  EXPECT_EQ(r.total_ops, 12);
  EXPECT_EQ(r.success_ratio(), "12/12");
  EXPECT_THAT(r.errors, HasNoErrors());
}

// A fork's own sink, as the harness sees it: what arrives, by method.
struct RecordingSink : ResultsSink {
  std::mutex mu;
  std::map<std::string, double> figures;
  size_t errors = 0;
  size_t backtraces = 0;
  void record(const std::string& key, double value) override {
    std::lock_guard<std::mutex> lock(mu);
    figures[key] = value;
  }
  void attach_errors(const std::vector<ErrorRecord>& e, const std::map<std::string, size_t>&) override {
    std::lock_guard<std::mutex> lock(mu);
    errors += e.size();
  }
  void attach_backtrace(const std::string&, const std::string&) override {
    std::lock_guard<std::mutex> lock(mu);
    ++backtraces;
  }
};

TEST(Runner, WritesFiguresErrorsAndBacktracesOnlyToTheSinkItsSpecNames) {
  auto mm = make_workload("mm", c10::Device(c10::kCPU));
  auto sink = std::make_shared<RecordingSink>();
  RunSpec spec;
  spec.threads = 2;
  spec.iterations = 3;
  spec.fault = {FaultKind::kWrong, 1, 2, ""};
  spec.results = sink;
  record_run(run_workload(*mm, spec));
  EXPECT_EQ(sink->figures["total_ops"], 6.0);
  EXPECT_EQ(sink->figures["errors"], 1.0);
  EXPECT_EQ(sink->errors, 1u);
  EXPECT_EQ(sink->backtraces, 1u) << "the first failures of a run carry a backtrace";
  spec.results = nullptr;  // no sink: the run's results are discarded, the run itself is the same
  EXPECT_EQ(run_workload(*mm, spec).failed_ops, 1);
  EXPECT_EQ(sink->errors, 1u);
}

TEST(IsolatedRounds, EachRoundIsClassifiedPassedFailedOrCrashedBySanitizer) {
  // Round 1 passes, round 2 reports a wrong value, round 3 dies the way a sanitizer build does
  // (it catches the signal, prints its report, exits 1): that is a crash, not a plain failure.
  RoundsSummary s = run_isolated_rounds(rounds_spec_from_knobs(3), [](int round) -> std::string {
    if (round == 2) return "wrong value in thread 1, iteration 2 (op mm on cpu): max abs diff 1";
    if (round == 3) {
      std::fprintf(stderr, "==42==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000\n");
      std::fflush(stderr);
      std::_Exit(1);
    }
    return "";
  });
  if (in_death_test_child()) return;
  ASSERT_EQ(s.rounds.size(), 3u);
  EXPECT_EQ(s.rounds[0].describe(), "round 1 passed");
  EXPECT_EQ(s.rounds[1].describe(),
            "round 2 failed: wrong value in thread 1, iteration 2 (op mm on cpu): max abs diff 1");
  EXPECT_EQ(s.rounds[2].describe(), "round 3 crashed: SIGSEGV (reported by AddressSanitizer)");
  EXPECT_EQ(s.passed, 1);
}

TEST(CrashSignatures, EveryRecordedSampleMatchesItsUpstreamIssue) {
  for (const auto& sig : known_crash_signatures()) {
    const std::string sample = recorded_crash_sample(sig.name);
    if (sample.empty()) continue;
    auto m = match_crash_signature("some output\n" + sample + "\nmore output");
    ASSERT_TRUE(m.has_value()) << sig.name;
    EXPECT_EQ(m->name, sig.name);
  }
  EXPECT_FALSE(match_crash_signature("Segmentation fault (core dumped)").has_value());
  EXPECT_THAT(describe_crash_match(recorded_crash_sample("mps-commit-committed")), HasSubstr("pytorch/pytorch#100285"));
}

}  // namespace
}  // namespace torchstress
