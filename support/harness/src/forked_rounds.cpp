#include "torchstress/forked_rounds.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "torchstress/crash_signatures.h"
#if __has_include("torchstress/crash_record.h")
#include "torchstress/crash_record.h"  // the crash handler's line in a round's output (with progress.h's "ran" line)
#define TORCHSTRESS_FORKED_ROUNDS_CRASH_RECORDS 1
#endif
#include "torchstress/error_sink.h"
#include "torchstress/exit_codes.h"
#include "torchstress/log.h"
#include "torchstress/progress.h"
#include "torchstress/results_sink.h"
#include "torchstress/stats.h"
#include "torchstress/subprocess.h"

namespace torchstress {
namespace {

using Clock = std::chrono::steady_clock;
std::atomic<bool> g_warm{false};
constexpr const char* kReasonPrefix = kRoundResultPrefix;
constexpr double kReexecRoundSeconds = 1.0;  // what a re-executed round costs on the 2-core CPU box

// In the forked child: the round under its deadline, one result line on stderr, then _Exit (no
// atexit handlers, no gtest teardown: the parent owns the test).
[[noreturn]] void forked_child(int round, double deadline, const RoundBody& body) {
  set_in_death_test_child(true);
#ifdef TORCHSTRESS_FORKED_ROUNDS_CRASH_RECORDS
  set_crash_record_fd(-1, "");  // a round writes no results line of its own: the parent records the round
#endif
  start_round_deadline(round, deadline);
  std::string reason;
  try {
    reason = body(round);
  } catch (const std::exception&) {
    reason = "exception outside the workers: " + current_exception_record(-1, -1, "round body", "").message;
  }
#ifdef TORCHSTRESS_FORKED_ROUNDS_CRASH_RECORDS
  if (const std::string ran = round_ran_line(); !ran.empty()) std::fputs(ran.c_str(), stderr);
#endif
  std::fprintf(stderr, "%s%s%s\n", kReasonPrefix, reason.empty() ? "passed" : "failed: ", reason.c_str());
  std::fflush(nullptr);
  std::_Exit(reason.empty() ? 0 : 1);
}

std::string find_line(const std::string& text, const std::string& prefix, bool last) {
  const auto pos = last ? text.rfind(prefix) : text.find(prefix);
  if (pos == std::string::npos) return "";
  const auto start = pos + (last ? prefix.size() : 0);
  return text.substr(start, text.find('\n', start) - start);
}

std::string tail_lines(const std::string& text, int n) {
  size_t pos = text.size();
  for (int k = 0; k <= n && pos != std::string::npos && pos > 0; ++k) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

RoundOutcome classify(int round, int status, bool killed, const std::string& err) {
  RoundOutcome o;
  o.round = round;
  o.stderr_tail = tail_lines(err, 40);
  o.crash_signature = describe_crash_match(err);
#ifdef TORCHSTRESS_FORKED_ROUNDS_CRASH_RECORDS
  o.ran = round_ran_from_output(err);
#endif
  const std::string reason = find_line(err, kReasonPrefix, true);
  if (killed) {
    o.status = RoundStatus::kTimedOut;
    o.detail = fmt::format("round {} passed its deadline (killed)", round);
  } else if (WIFSIGNALED(status)) {
    o.status = RoundStatus::kCrashed;
    o.detail = signal_name(WTERMSIG(status));
#ifdef TORCHSTRESS_FORKED_ROUNDS_CRASH_RECORDS
    if (const std::string crash = crash_detail_from_output(err, o.detail); !crash.empty()) o.detail = crash;
#endif
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && reason == "passed") {
    o.status = RoundStatus::kPassed;
  } else if (WIFEXITED(status) && (WEXITSTATUS(status) == kExitStalled || WEXITSTATUS(status) == kExitRoundDeadline)) {
    o.status = RoundStatus::kTimedOut;
    o.detail = WEXITSTATUS(status) == kExitStalled ? find_line(err, "torchstress watchdog: ", false) : reason;
  } else {
    o.status = RoundStatus::kFailed;
    o.detail = reason.empty() ? fmt::format("exit {} without a result line", WEXITSTATUS(status)) : reason;
    if (o.detail.rfind("failed: ", 0) == 0) o.detail.erase(0, 8);
  }
  return o;
}

// One forked round: the child's stderr comes back through a pipe; past the deadline (plus a
// grace period for the child's own deadline thread) the child is killed and the round timed out.
RoundOutcome fork_round(int round, const RoundsSpec& spec, const RoundBody& body) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(fmt::format("pipe failed: errno {}", errno));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(fmt::format("fork failed: errno {}", errno));
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
    forked_child(round, spec.round_timeout.count(), body);
  }
  ::close(fds[1]);
  std::string err;
  bool killed = false;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(spec.round_timeout) +
                        std::chrono::seconds(5);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child is gone (all write ends closed)
    err.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return classify(round, status, killed, err);
}

}  // namespace

bool process_is_cold() { return !g_warm.load(); }
void mark_process_warm() { g_warm.store(true); }

RoundsSummary run_forked_rounds(const RoundsSpec& spec, const RoundBody& body) {
  RoundsSummary s;
  s.pass_threshold = spec.pass_threshold;
  s.results = spec.results;
  const auto start = Clock::now();
  const auto budget = std::chrono::duration_cast<Clock::duration>(spec.budget);
  for (int round = 1; round <= spec.max_rounds; ++round) {
    if (round > spec.rounds && (budget.count() <= 0 || Clock::now() - start >= budget)) break;
    RoundOutcome o = fork_round(round, spec, body);
    if (o.status != RoundStatus::kPassed) {
      logger("rounds")->info("{}", o.describe());
      if (!o.stderr_tail.empty()) logger("rounds")->info("round {} stderr (last lines):\n{}", round, o.stderr_tail);
    }
    append_round_line(spec, o);
    const bool failed = o.status != RoundStatus::kPassed;
    if (!failed) ++s.passed;
    ++s.total;
    s.rounds.push_back(std::move(o));
    if (failed && round >= spec.rounds && budget.count() > 0) break;  // caught: the budget has done its work
  }
  s.pass_rate = s.total > 0 ? static_cast<double>(s.passed) / s.total : 0.0;
  s.failure_upper_bound = failure_rate_upper_bound(s.total - s.passed, s.total);
  logger("rounds")->info("{} forked cold rounds in {:.2f} s: {} passed", s.total,
                         std::chrono::duration<double>(Clock::now() - start).count(), s.passed);
  return s;
}

bool cold_rounds_fork(const c10::Device& device) {
  return device.is_cpu() && process_is_cold() && !in_death_test_child();
}

void run_in_fork(const std::function<void()>& work, std::chrono::duration<double> timeout) {
  RoundsSpec spec;
  spec.round_timeout = timeout;
  const RoundOutcome o = fork_round(0, spec, [&work](int) {
    work();
    return std::string();
  });
  if (o.status != RoundStatus::kPassed) {
    throw std::runtime_error(fmt::format("a forked helper process {}: {}\n{}", to_string(o.status), o.detail, o.stderr_tail));
  }
}

RoundsSummary run_cold_rounds(const RoundsSpec& spec, const c10::Device& device, const RoundBody& body) {
  if (cold_rounds_fork(device)) return run_forked_rounds(spec, body);
  RoundsSpec fixed = spec;
  fixed.rounds = std::max(spec.rounds, static_cast<int>(std::floor(spec.budget.count() / kReexecRoundSeconds)));
  fixed.rounds = std::min(fixed.rounds, spec.max_rounds);
  fixed.budget = std::chrono::duration<double>(0.0);
  return run_isolated_rounds(fixed, body);
}

}  // namespace torchstress
