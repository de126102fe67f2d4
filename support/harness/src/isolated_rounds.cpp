#include "torchstress/isolated_rounds.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <regex>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "torchstress/crash_record.h"
#include "torchstress/crash_signatures.h"
#include "torchstress/exit_codes.h"
#include "torchstress/log.h"
#include "torchstress/progress.h"
#include "torchstress/results_sink.h"
#include "torchstress/stats.h"
#include "torchstress/subprocess.h"

namespace torchstress {
namespace {

std::atomic<bool> g_child{false};
constexpr const char* kReasonPrefix = kRoundResultPrefix;

}  // namespace

void append_round_line(const RoundsSpec& spec, const RoundOutcome& o) {
  spec.results_sink().append(JsonLine()
                                 .add("type", "round")
                                 .add("test", current_test_name())
                                 .add("round", o.round)
                                 .add("status", to_string(o.status))
                                 .add("detail", o.detail)
                                 .add("ran", o.ran)
                                 .add("crash_signature", o.crash_signature)
                                 .add("stderr_tail", o.status == RoundStatus::kPassed ? std::string() : o.stderr_tail));
}

void start_round_deadline(int round, double deadline_s) {
  std::thread([round, deadline_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(deadline_s));
    std::fprintf(stderr, "%stimed out: round %d passed its %.0f s deadline\n", kRoundResultPrefix, round, deadline_s);
    std::fflush(stderr);
    std::_Exit(kExitRoundDeadline);
  }).detach();
}

namespace {

// In the child: run the round under a deadline, print one result line, and end the process.
[[noreturn]] void child_main(int round, std::chrono::duration<double> timeout, const RoundBody& body) {
  start_round_deadline(round, timeout.count());
  std::string reason;
  reset_progress_tally();  // what this round runs, not what the test body ran before it
  try {
    reason = body(round);
  } catch (const std::exception&) {
    reason = "exception outside the workers: " + current_exception_record(-1, -1, "round body", "").message;
  }
  if (const std::string ran = round_ran_line(); !ran.empty()) std::fputs(ran.c_str(), stderr);
  if (reason.empty()) {
    std::fprintf(stderr, "%spassed\n", kReasonPrefix);
  } else {
    std::fprintf(stderr, "%sfailed: %s\n", kReasonPrefix, reason.c_str());
  }
  std::fflush(nullptr);
  std::_Exit(reason.empty() ? 0 : 1);
}

std::string tail_lines(const std::string& text, int n) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0; i < lines.size(); ++i)
    out += lines[i] + "\n";
  return out;
}

// The rest of the last line that starts with `prefix`, or "".
std::string find_line(const std::string& text, const std::string& prefix) {
  const auto pos = text.rfind(prefix);
  if (pos == std::string::npos) return "";
  const auto start = pos + prefix.size();
  return text.substr(start, text.find('\n', start) - start);
}

std::string find_reason(const std::string& text) { return find_line(text, kReasonPrefix); }

std::string find_stall(const std::string& text) {
  const auto pos = text.find("torchstress watchdog: ");
  if (pos == std::string::npos) return "";
  return text.substr(pos, text.find('\n', pos) - pos);
}

// A sanitizer catches the fatal signal (or finds a memory error) itself, reports, and exits 1:
// "==123==ERROR: AddressSanitizer: SEGV on unknown address" -> "SIGSEGV (reported by AddressSanitizer)".
std::string sanitizer_crash(const std::string& text) {
  static const std::regex re("ERROR: (AddressSanitizer|ThreadSanitizer|MemorySanitizer|LeakSanitizer): ([A-Za-z-]+)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return "";
  const std::string what = m[2].str();
  if (what == "SEGV" || what == "ABRT" || what == "BUS" || what == "FPE" || what == "ILL") {
    return fmt::format("SIG{} (reported by {})", what, m[1].str());
  }
  return fmt::format("{} (reported by {})", what, m[1].str());
}

RoundOutcome classify(int round, int wait_status, const std::string& child_stderr) {
  RoundOutcome o;
  o.round = round;
  o.stderr_tail = tail_lines(child_stderr, 40);
  o.crash_signature = describe_crash_match(child_stderr);
  const std::string reason = find_reason(child_stderr);
  o.ran = round_ran_from_output(child_stderr);
  if (WIFSIGNALED(wait_status)) {
    o.status = RoundStatus::kCrashed;
    o.detail = signal_name(WTERMSIG(wait_status));
    // The handler's line names the worker when it is the same signal (a sanitizer may re-raise another).
    if (const std::string crash = crash_detail_from_output(child_stderr, o.detail); !crash.empty()) o.detail = crash;
  } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0 && reason == "passed") {
    o.status = RoundStatus::kPassed;
  } else if (WIFEXITED(wait_status) &&
             (WEXITSTATUS(wait_status) == kExitStalled || WEXITSTATUS(wait_status) == kExitRoundDeadline)) {
    o.status = RoundStatus::kTimedOut;
    o.detail = WEXITSTATUS(wait_status) == kExitStalled ? find_stall(child_stderr) : reason;
  } else if (const std::string sanitizer = sanitizer_crash(child_stderr); reason.empty() && !sanitizer.empty()) {
    o.status = RoundStatus::kCrashed;
    o.detail = sanitizer;
  } else {
    o.status = RoundStatus::kFailed;
    o.detail = reason.empty() ? fmt::format("exit {} without a result line", WEXITSTATUS(wait_status)) : reason;
    if (o.detail.rfind("failed: ", 0) == 0) o.detail.erase(0, 8);  // the child's result-line prefix
  }
  return o;
}

}  // namespace

bool in_death_test_child() { return g_child.load(); }
void set_in_death_test_child(bool v) { g_child.store(v); }

const char* to_string(RoundStatus s) {
  switch (s) {
    case RoundStatus::kPassed:
      return "passed";
    case RoundStatus::kFailed:
      return "failed";
    case RoundStatus::kCrashed:
      return "crashed";
    case RoundStatus::kTimedOut:
      return "timed out";
  }
  return "unknown";
}

std::string RoundOutcome::describe() const {
  std::string s = fmt::format("round {} {}", round, to_string(status));
  if (!detail.empty()) s += ": " + detail;
  if (!crash_signature.empty()) s += " (" + crash_signature + ")";
  return s;
}

// What one round ran, as its child said (a passing round's words first: a crashed one says none).
static std::string what_ran(const std::vector<RoundOutcome>& rounds) {
  std::string what;
  for (const auto& o : rounds) {
    if (!o.ran.empty() && (what.empty() || o.status == RoundStatus::kPassed)) what = o.ran;
    if (!what.empty() && o.status == RoundStatus::kPassed) break;
  }
  return what;
}

std::string RoundsSummary::headline() const {
  const std::string what = what_ran(rounds);
  std::string caught;
  for (const auto& o : rounds) {
    if (o.status != RoundStatus::kPassed) caught += (caught.empty() ? "" : "; ") + o.describe();
  }
  if (total == 1 && rounds.size() == 1) {
    const RoundOutcome& o = rounds.front();
    std::string verdict = to_string(o.status);
    if (!o.detail.empty()) verdict += ": " + o.detail;
    if (!o.crash_signature.empty()) verdict += " (" + o.crash_signature + ")";
    return fmt::format("1 round{} in a fresh process: {}", what.empty() ? "" : " of " + what, verdict);
  }
  std::string s = fmt::format("Passed {}/{} rounds{}", passed, total,
                              what.empty() ? ", each in a fresh process" : " of " + what + ", each in a fresh process");
  if (!caught.empty()) return s + "; caught: " + caught;
  if (total < 2) return s;
  // With zero failures the bound only tightens with more rounds: say how many a tighter claim needs.
  return s + fmt::format(
                 "; per-round failure rate below {:.1f}% at 95% confidence (a 5% bound needs {} clean rounds, 1% "
                 "needs {})",
                 100.0 * failure_upper_bound, trials_needed_for_bound(0.05), trials_needed_for_bound(0.01));
}

RoundsSummary run_isolated_rounds(const RoundsSpec& spec, const RoundBody& body) {
  const int rounds = spec.rounds;
  RoundsSummary s;
  s.total = rounds;
  s.pass_threshold = spec.pass_threshold;
  s.results = spec.results;
  for (int round = 1; round <= rounds; ++round) {
    int status = -1;
    std::string child_stderr;
    // The predicate and matcher only capture: the pass/fail decision is the pass-rate threshold,
    // and the parent keeps running rounds after a failure.
    auto capture_status = [&status](int st) {
      status = st;
      return true;
    };
    auto capture_stderr = ::testing::Truly([&child_stderr](const std::string& text) {
      child_stderr = text;
      return true;
    });
    EXPECT_EXIT(child_main(round, spec.round_timeout, body), capture_status, capture_stderr);
    if (in_death_test_child()) continue;  // the child skips the rounds that are not its own
    RoundOutcome o = classify(round, status, child_stderr);
    logger("rounds")->info("{}", o.describe());
    if (o.status != RoundStatus::kPassed && !o.stderr_tail.empty()) {
      logger("rounds")->info("round {} stderr (last lines):\n{}", round, o.stderr_tail);
    }
    append_round_line(spec, o);
    if (o.status == RoundStatus::kPassed) ++s.passed;
    s.rounds.push_back(std::move(o));
  }
  s.pass_rate = rounds > 0 ? static_cast<double>(s.passed) / rounds : 0.0;
  s.failure_upper_bound = failure_rate_upper_bound(rounds - s.passed, rounds);
  return s;
}

void record_rounds(const RoundsSummary& s) {
  ResultsSink& out = s.results ? *s.results : discarding_sink();
  out.record("rounds_passed", static_cast<double>(s.passed));
  out.record("rounds_total", static_cast<double>(s.total));
  out.record("pass_rate", s.pass_rate);
  out.record("failure_rate_upper_bound_95", s.failure_upper_bound);
  out.record("rounds_headline", s.headline());
  std::string outcomes;
  for (const auto& o : s.rounds) {
    if (o.status != RoundStatus::kPassed) outcomes += (outcomes.empty() ? "" : " | ") + o.describe();
  }
  out.record("round_failures", outcomes.empty() ? "none" : outcomes);
  logger("rounds")->info("{}", s.headline());
  std::printf("%s\n", s.headline().c_str());
}

void expect_rounds_pass(const RoundsSummary& s) {
  if (in_death_test_child()) return;
  record_rounds(s);
  std::string failures;
  for (const auto& o : s.rounds) {
    if (o.status != RoundStatus::kPassed) failures += "\n  " + o.describe();
  }
  const std::string what = what_ran(s.rounds);
  EXPECT_GE(s.pass_rate, s.pass_threshold)
      << fmt::format("Passed {}/{} rounds{}, each in a fresh process; threshold {}", s.passed, s.total,
                     what.empty() ? "" : " of " + what, s.pass_threshold)
      << failures;
}

std::string round_reason(const std::vector<ErrorRecord>& errors, size_t total_errors) {
  if (errors.empty()) return "";
  return errors.front().describe() + (total_errors > 1 ? fmt::format(" (+{} more)", total_errors - 1) : "");
}

}  // namespace torchstress
