// Proof that a crash in any test is a typed record (support/harness crash_record.h): a worker that
// dies by a signal mid-run, in a warm threaded test, a soak, or by overflowing its stack, leaves a
// "crashed" results line naming the signal and every worker's op, iteration and input, written by
// the async-signal-safe handler before the process ends by that same signal. And a cold round's
// messages say what ran and what was caught.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "torchstress/crash_record.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/progress.h"
#include "torchstress/results_schema.h"
#include "torchstress/results_sink.h"
#include "torchstress/subprocess.h"

#if defined(__SANITIZE_ADDRESS__)
#define TORCHSTRESS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TORCHSTRESS_UNDER_ASAN 1
#endif
#endif
#ifndef TORCHSTRESS_UNDER_ASAN
#define TORCHSTRESS_UNDER_ASAN 0
#endif

namespace torchstress {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr double kDeadlineSeconds = 120;

ChildResult RunBattery(const std::string& test, std::map<std::string, std::string> env) {
  const std::map<std::string, std::string> small = {{"TORCHSTRESS_DEVICE", "cpu"},
                                                    {"TORCHSTRESS_SOAK_SHORT_SECONDS", "3"},
                                                    {"TORCHSTRESS_TRANSFORMER_ITERATIONS", "3"},
                                                    {"TORCHSTRESS_QUICK_ROUNDS", "2"},
                                                    {"TORCHSTRESS_STALL_SECONDS", "20"},
                                                    {"TORCHSTRESS_INJECT", ""},
                                                    {"TORCHSTRESS_INJECT_ROUND", ""},
                                                    {"TORCHSTRESS_REQUIRE", ""},
                                                    {"TORCHSTRESS_OP_LIBRARY", ""},
                                                    {"TORCHSTRESS_WORKLOAD", ""}};
  for (const auto& [k, v] : small) env.emplace(k, v);
  ChildResult r = run_child({TORCHSTRESS_BATTERY_BINARY, "--gtest_filter=" + test}, env,
                            std::chrono::duration<double>(kDeadlineSeconds));
  EXPECT_FALSE(r.timed_out) << "the child outlived its deadline; output:\n" << r.output;
  return r;
}

// The process ended by `sig` (under AddressSanitizer its handler reports and exits 1 instead).
void ExpectEndedBy(const ChildResult& r, int sig) {
  if (TORCHSTRESS_UNDER_ASAN && !r.signaled) {
    EXPECT_NE(r.exit_code, 0) << r.describe();
    return;
  }
  EXPECT_TRUE(r.signaled) << r.describe() << "\n" << r.output;
  EXPECT_EQ(r.signal, sig) << r.describe();
}

// The "test" lines of a results folder with status `status`, parsed.
std::vector<Json> TestLines(const std::string& dir, const std::string& status) {
  std::vector<Json> out;
  for (const auto& f : list_files(dir)) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) {
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << "not valid JSON in " << f << ": " << line;
      if (j.is_object() && j.value("type", "") == "test" && j.value("status", "") == status) out.push_back(j);
    }
  }
  return out;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "torchstress-crash-" + name + "-" + std::to_string(::getpid());
  remove_tree(dir);
  return dir;
}

// The fields every crash record has, and the crashing worker's.
void ExpectCrashRecord(const Json& c, const std::string& test, const std::string& signal, int thread, long iteration,
                       int threads) {
  EXPECT_EQ(c.value("schema", ""), kResultsSchema);
  EXPECT_EQ(c.value("name", ""), test);
  EXPECT_EQ(c.value("status", ""), "crashed");
  EXPECT_EQ(c.value("signal", ""), signal);
  EXPECT_EQ(c.value("device", ""), "cpu");
  EXPECT_FALSE(c.value("section", "").empty());
  ASSERT_TRUE(c["errors"].is_array() && c["errors"].size() == 1) << c.dump();
  const Json& e = c["errors"][0];
  EXPECT_EQ(e.value("kind", ""), "crash");
  EXPECT_EQ(e.value("thread", -2), thread);
  EXPECT_EQ(e.value("iteration", -2L), iteration);
  EXPECT_FALSE(e.value("op", "").empty());
  EXPECT_THAT(e.value("message", ""), HasSubstr(signal + " in thread " + std::to_string(thread) + " at iteration " +
                                                std::to_string(iteration)));
  EXPECT_EQ(c["error_counts"].value("crash", 0), 1);
  ASSERT_TRUE(c["workers"].is_array()) << c.dump();
  EXPECT_EQ(static_cast<int>(c["workers"].size()), threads) << c["workers"].dump();
  for (const auto& w : c["workers"]) {
    EXPECT_TRUE(w.contains("thread") && w.contains("op") && w.contains("iteration") && w.contains("input") &&
                w.contains("ops_done"))
        << w.dump();
  }
  EXPECT_TRUE(c["time"].is_number() && c["duration_s"].is_number()) << c.dump();
}

TEST(CrashRecord, SegfaultInAWarmThreadedWorkerIsATypedRecordWithEveryWorker) {
  const std::string dir = FreshDir("threaded");
  ChildResult r = RunBattery("Workload.Threaded", {{"TORCHSTRESS_INJECT", "segv@3:5"}, {"TORCHSTRESS_RESULTS_DIR", dir}});
  ExpectEndedBy(r, SIGSEGV);
  EXPECT_THAT(r.output, HasSubstr("torchstress crash: Workload.Threaded: SIGSEGV in thread 3 at iteration 5 in "));
  const auto crashed = TestLines(dir, "crashed");
  ASSERT_EQ(crashed.size(), 1u) << r.output;
  ExpectCrashRecord(crashed[0], "Workload.Threaded", "SIGSEGV", 3, 5, 8);
  remove_tree(dir);
}

TEST(CrashRecord, AbortInASoakIsATypedRecord) {
  const std::string dir = FreshDir("soak");
  ChildResult r =
      RunBattery("Soak.EightThreadsShort", {{"TORCHSTRESS_INJECT", "abort@1:20"}, {"TORCHSTRESS_RESULTS_DIR", dir}});
  ExpectEndedBy(r, SIGABRT);
  const auto crashed = TestLines(dir, "crashed");
  ASSERT_EQ(crashed.size(), 1u) << r.output;
  ExpectCrashRecord(crashed[0], "Soak.EightThreadsShort", "SIGABRT", 1, 20, 8);
  remove_tree(dir);
}

// A round's child writes no results file; its crash line reaches the parent, which names the worker
// (one round: FaultInjection.SegfaultInOneRound... shows the other rounds still run).
TEST(CrashRecord, CrashedRoundNamesTheWorkerItsIterationAndOp) {
  ChildResult r = RunBattery("TransformerEncoder.IsolatedRoundsQuick",
                             {{"TORCHSTRESS_INJECT", "segv@0:1"}, {"TORCHSTRESS_QUICK_ROUNDS", "1"}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_THAT(r.output, HasSubstr("round 1 crashed: SIGSEGV in thread 0 at iteration 1 in transformer"));
  EXPECT_THAT(r.output,
              HasSubstr("1 round in a fresh process: crashed: SIGSEGV in thread 0 at iteration 1 in transformer"));
}

TEST(CrashRecord, OneRoundSaysWhatRanAndThatItPassed) {
  ChildResult r = RunBattery("TransformerEncoder.IsolatedRoundsQuick", {{"TORCHSTRESS_QUICK_ROUNDS", "1"}});
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\n" << r.output;
  EXPECT_THAT(r.output, HasSubstr("1 round of 8 threads, 24 calls of transformer in a fresh process: passed"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("below 100.0%")));
}

// ---- in-process: the handler's own paths, in death-test children ------------------------------------

// Recursion the compiler cannot turn into a loop: each frame keeps 1 KiB alive across the call.
__attribute__((noinline)) long Overflow(long depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  if (depth > (1L << 40)) return 0;  // never: the stack ends first
  return Overflow(depth + 1) + frame[0];
}

// Worker 1 of 3 overflows its stack at iteration 2 of "overflow_op"; the record goes to `path`.
[[noreturn]] void OverflowInAWorker(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  set_crash_record_fd(fd, "cpu");
  set_crash_record_test("CrashRecordChild.StackOverflow",
                        R"({"schema":"torchstress-results/2","type":"test","name":"CrashRecordChild.StackOverflow","section":"selftest","device":"cpu","binary":"torchstress_selftest")");
  ProgressBoard board(3);
  std::atomic<bool> ready{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&board, &ready, t] {
      board.begin(t, t == 1 ? 2 : 4, t == 1 ? "overflow_op" : "idle_op", t);
      if (t == 1) {
        while (!ready.load()) std::this_thread::yield();
        Overflow(0);
      }
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ready.store(true);
  for (auto& w : workers) w.join();
  std::_Exit(0);
}

TEST(CrashRecord, StackOverflowInAWorkerIsRecordedFromTheAlternateStack) {
  ASSERT_TRUE(crash_handler_installed()) << "the shared test main installs the handler";
  // Not FreshDir: the death-test child runs this body again, in a process of its own, and must
  // write where the parent reads.
  const std::string dir = ::testing::TempDir() + "torchstress-crash-overflow";
  if (!in_death_test_child()) remove_tree(dir);
  ASSERT_TRUE(make_directories(dir));
  const std::string path = dir + "/results-overflow.jsonl";
  const auto ended = [](int status) {
    return (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) ||
           (TORCHSTRESS_UNDER_ASAN && WIFEXITED(status) && WEXITSTATUS(status) != 0);
  };
  EXPECT_EXIT(OverflowInAWorker(path), ended,
              "torchstress crash: CrashRecordChild.StackOverflow: SIGSEGV in thread 1 at iteration 2 in overflow_op "
              "\\(input 1\\); other threads: \\[thread 0: at iteration 4 in idle_op \\(input 0\\), 0 ops done\\]");
  const auto crashed = TestLines(dir, "crashed");
  ASSERT_EQ(crashed.size(), 1u);
  ExpectCrashRecord(crashed[0], "CrashRecordChild.StackOverflow", "SIGSEGV", 1, 2, 3);
  EXPECT_EQ(crashed[0]["errors"][0].value("op", ""), "overflow_op");
  EXPECT_EQ(crashed[0]["errors"][0].value("input", -1), 1);
  remove_tree(dir);
}

// Two workers take two locks in opposite orders and deadlock: the watchdog names it as soon as
// every running worker is blocked and the process idle, long before its 30 s stall deadline.
[[noreturn]] void DeadlockTwoWorkers() {
  ProgressBoard board(2);
  Watchdog watchdog(board, std::chrono::seconds(30), "CrashRecordChild.Deadlock", discarding_sink());
  std::mutex a, b;
  std::atomic<int> holding{0};
  auto worker = [&](int t, std::mutex& first, std::mutex& second) {
    board.begin(t, 3, "deadlock_op", t);
    std::lock_guard<std::mutex> one(first);
    holding.fetch_add(1);
    while (holding.load() < 2) std::this_thread::yield();
    std::lock_guard<std::mutex> two(second);  // never: the other worker holds it
    board.finish_op(t);
  };
  std::thread t0(worker, 0, std::ref(a), std::ref(b));
  std::thread t1(worker, 1, std::ref(b), std::ref(a));
  t0.join();
  t1.join();
  std::_Exit(0);
}

TEST(CrashRecord, DeadlockIsNamedBeforeTheStallDeadlineWhenEveryWorkerIsBlockedAndTheProcessIdle) {
  EXPECT_EQ(Watchdog::deadlock_seconds(30), 3.0);
  EXPECT_EQ(Watchdog::deadlock_seconds(120), 12.0);
  EXPECT_EQ(Watchdog::deadlock_seconds(2), 2.0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EXIT(DeadlockTwoWorkers(), ::testing::ExitedWithCode(3),
              "thread [01] stuck at iteration 3 in deadlock_op \\(input [01]\\) .*stall deadline 30.0 s.*"
              "every running worker blocked for [0-9.]+ s with the process idle");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0) << "a deadlock must not wait for the 30 s stall deadline";
}

// The text is built without allocation, yet stays valid JSON whatever an op's name holds.
TEST(CrashRecord, RecordIsValidJsonWithOddOpNamesAndNamesTheCrashingThread) {
  ProgressBoard board(2);
  static const char kOdd[] = "quote\" back\\slash \x01 \xc3\xa9";
  set_crash_record_test("Odd.Name", R"({"schema":"torchstress-results/2","type":"test","name":"Odd.Name")");
  CrashTexts texts;
  std::thread worker([&] {
    board.begin(0, 9, kOdd, 3);
    texts = format_crash_record(SIGBUS);
  });
  worker.join();
  set_crash_record_test("", "");  // the listener's prefix for this test is gone: no crash belongs to it now
  ASSERT_FALSE(texts.results_line.empty());
  EXPECT_EQ(texts.results_line.back(), '\n');
  const Json j = Json::parse(texts.results_line, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << texts.results_line;
  EXPECT_EQ(j["signal"], "SIGBUS");
  EXPECT_EQ(j["errors"][0]["thread"], 0);
  EXPECT_EQ(j["errors"][0]["iteration"], 9);
  EXPECT_EQ(j["errors"][0]["input"], 3);
  EXPECT_EQ(j["errors"][0]["op"], "quote\" back\\slash \x01 ??");
  EXPECT_EQ(j["workers"].size(), 2u);
  EXPECT_EQ(j["workers"][1]["iteration"], -1);
  EXPECT_THAT(texts.stderr_line, HasSubstr("torchstress crash: Odd.Name: SIGBUS in thread 0 at iteration 9"));
  // Outside any worker: the record says so, and still lists the workers.
  const CrashTexts main_thread = format_crash_record(SIGFPE);
  EXPECT_THAT(main_thread.stderr_line, HasSubstr("SIGFPE in a thread that is no worker"));
}

}  // namespace
}  // namespace torchstress
