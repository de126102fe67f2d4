// Isolated rounds: each round runs in its own process as a GoogleTest "threadsafe" death test
// (the binary is re-executed and the child re-runs the test body from its top; never a plain
// fork, since CUDA and Metal are not fork-safe). The parent does no device work: it classifies
// each child's end as passed, failed (with the child's one-line reason), crashed (signal name,
// and any known upstream crash signature) or timed out, keeps going after a failure, and
// reports the pass rate with its 95% bound.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torchstress/error_sink.h"
#include "torchstress/run_spec.h"

namespace torchstress {

enum class RoundStatus { kPassed, kFailed, kCrashed, kTimedOut };
const char* to_string(RoundStatus s);

struct RoundOutcome {
  int round = 0;  // 1-based
  RoundStatus status = RoundStatus::kFailed;
  std::string detail;           // one line: the child's reason, the signal, the stall message
  std::string crash_signature;  // "matches pytorch/pytorch#... : ..." when stderr matched one
  std::string stderr_tail;      // last lines the child printed
  std::string ran;              // what the round ran, from its child: "8 racing first calls of relu"

  std::string describe() const;  // "round 3 crashed: SIGSEGV"
};

struct RoundsSummary {
  std::vector<RoundOutcome> rounds;
  int passed = 0;
  int total = 0;
  double pass_rate = 0.0;
  double failure_upper_bound = 1.0;  // one-sided 95%
  double pass_threshold = 1.0;       // from the RoundsSpec: the pass rate expect_rounds_pass() asks for
  std::shared_ptr<ResultsSink> results;  // the RoundsSpec's sink, where record_rounds() writes

  // What ran and what was caught: "1 round of 8 racing first calls of relu in a fresh process:
  // passed"; "Passed 1/2 rounds of 8 threads, 24 calls of transformer, each in a fresh process;
  // caught: round 2 crashed: SIGSEGV in thread 0 at iteration 1 in transformer"; with 2 or more
  // clean rounds, the per-round failure rate's 95% bound.
  std::string headline() const;
};

// A round's work, run in the child: returns "" when everything passed, else a one-line reason.
using RoundBody = std::function<std::string(int round)>;

// Must be called from a TEST body (it uses EXPECT_EXIT). Runs spec.rounds rounds, each in a fresh
// process with a deadline of spec.round_timeout.
RoundsSummary run_isolated_rounds(const RoundsSpec& spec, const RoundBody& body);

// Records the summary's figures in its results sink and logs one line per round.
void record_rounds(const RoundsSummary& s);

// Records the summary and asserts the pass rate meets its pass_threshold, listing every round that
// did not pass. Call from the TEST body after run_isolated_rounds(); does nothing in a round's child.
void expect_rounds_pass(const RoundsSummary& s);

// A round body's one-line verdict from its errors: "" when there are none, else the first error
// and how many more ("wrong value in thread 3, ... (+4 more)").
std::string round_reason(const std::vector<ErrorRecord>& errors, size_t total_errors);

// In a round's child (re-executed or forked): the line prefix of its one result line on stderr,
// and the thread that ends the child with that line and kExitRoundDeadline after `deadline_s`.
inline constexpr const char* kRoundResultPrefix = "torchstress-round-result: ";
void start_round_deadline(int round, double deadline_s);
// The round's results line (type "round": status, detail, what ran, crash signature, stderr tail).
void append_round_line(const RoundsSpec& spec, const RoundOutcome& o);

// True in a death-test child (re-executed binary).
bool in_death_test_child();
void set_in_death_test_child(bool v);

}  // namespace torchstress
