#include "known_bug.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "torchstress/knobs.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/subprocess.h"

namespace torchstress::known_bugs {

// Every suite of this binary reports in the Known upstream bugs section (declared once: a unity
// build may put the test files into one translation unit).
TORCHSTRESS_BINARY_SECTION(known_bugs);

std::string Version::str() const { return fmt::format("{}.{}.{}", major, minor, patch); }

Version parse_version(const std::string& text) {
  Version v;
  int* parts[] = {&v.major, &v.minor, &v.patch};
  size_t i = 0, n = 0;
  while (n < 3 && i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    *parts[n++] = std::stoi(text.substr(i, end - i));
    if (end >= text.size() || text[end] != '.') {
      i = end;
      break;
    }
    i = end + 1;
  }
  if (n < 2) throw std::invalid_argument("'" + text + "' is not a LibTorch version; accepted: MAJOR.MINOR[.PATCH][+local]");
  return v;
}

Version libtorch_version() { return parse_version(TORCH_VERSION); }

bool VersionRange::contains(const Version& v) const {
  if (none) return false;
  if (first && v < *first) return false;
  if (last && *last < v) return false;
  return true;
}

VersionRange up_to(const std::string& last, const std::string& text) {
  VersionRange r;
  r.last = parse_version(last);
  r.text = text;
  return r;
}
VersionRange every_version(const std::string& text) {
  VersionRange r;
  r.text = text;
  return r;
}
VersionRange no_version(const std::string& text) {
  VersionRange r;
  r.none = true;
  r.text = text;
  return r;
}

Observation Observation::caught(std::string symptom, std::string detail) {
  return {Seen::kCaught, std::move(symptom), std::move(detail)};
}
Observation Observation::clean(std::string detail) { return {Seen::kClean, "", std::move(detail)}; }
Observation Observation::absent(std::string why) { return {Seen::kAbsent, "", std::move(why)}; }
Observation Observation::broken(std::string what) { return {Seen::kBroken, "", std::move(what)}; }

bool judge(const KnownBug& bug, const Observation& seen) {
  const Version here = libtorch_version();
  const bool affected = bug.affected.contains(here);
  // caught / passed / skipped are the expected verdicts; missed, unexpected and broken fail.
  std::string verdict;
  switch (seen.seen) {
    case Seen::kCaught:
      verdict = affected ? "caught" : "unexpected";
      break;
    case Seen::kClean:
      verdict = affected ? "missed" : "passed";
      break;
    case Seen::kAbsent:
      verdict = "skipped";
      break;
    case Seen::kBroken:
      verdict = "broken";
      break;
  }
  record("known_bug_role", bug.control() ? "control" : "bug");
  record("known_bug_upstream", bug.upstream);
  record("known_bug_affected", bug.affected.text);
  record("known_bug_reason", bug.reason);
  record("known_bug_libtorch", std::string(TORCH_VERSION));
  record("known_bug_affected_here", affected ? "yes" : "no");
  record("known_bug_verdict", verdict);
  record("known_bug_symptom", seen.symptom);
  record("known_bug_detail", seen.detail);
  const std::string what = fmt::format("{} ({}; affected: {}; this LibTorch: {})", bug.reason, bug.upstream,
                                       bug.affected.text, TORCH_VERSION);
  if (verdict == "missed") {
    ADD_FAILURE() << "known upstream bug NOT caught on an affected LibTorch: " << what
                  << "\n  the repro ran clean: " << seen.detail;
  } else if (verdict == "unexpected") {
    ADD_FAILURE() << (bug.control() ? "negative control flagged: " : "caught on a LibTorch declared fixed: ")
                  << seen.symptom << ": " << seen.detail << "\n  " << what;
  } else if (verdict == "broken") {
    ADD_FAILURE() << "the repro could not run as written: " << seen.detail << "\n  " << what;
  } else if (verdict == "caught") {
    std::fprintf(stderr, "known bug caught as expected: %s: %s\n  %s\n", seen.symptom.c_str(), seen.detail.c_str(),
                 what.c_str());
  }
  return seen.seen != Seen::kAbsent;
}

// ---- repros in child processes ------------------------------------------------------------

namespace {
constexpr const char* kCaughtPrefix = "caught ";
}

std::string caught_reason(const std::string& symptom, const std::string& detail) {
  return fmt::format("{}{}: {}", kCaughtPrefix, symptom, detail);
}

Observation observe_round(const RoundOutcome& round, const std::string& clean_detail) {
  const std::string where = round.crash_signature.empty() ? "" : " (" + round.crash_signature + ")";
  switch (round.status) {
    case RoundStatus::kPassed:
      return Observation::clean(clean_detail);
    case RoundStatus::kCrashed:
      // "SIGSEGV in thread 1 at iteration 114 in <op>": the signal is the symptom, the rest the detail.
      return Observation::caught("crash: " + round.detail.substr(0, round.detail.find(' ')),
                                 fmt::format("the child process died of {}{}", round.detail, where));
    case RoundStatus::kTimedOut:
      return Observation::caught("hang", "the child process passed its deadline: " + round.detail);
    case RoundStatus::kFailed:
      break;
  }
  if (round.detail.rfind(kCaughtPrefix, 0) == 0) {
    const std::string rest = round.detail.substr(std::string(kCaughtPrefix).size());
    const auto colon = rest.find(": ");
    if (colon != std::string::npos) return Observation::caught(rest.substr(0, colon), rest.substr(colon + 2));
  }
  return Observation::broken("the child process failed: " + round.detail);
}

Observation observe_in_child(const RoundBody& body, const std::string& clean_detail) {
  RoundsSummary s = run_isolated_rounds(rounds_spec_from_knobs(1), body);
  if (in_death_test_child() || s.rounds.empty()) return Observation::broken("no round ran");
  return observe_round(s.rounds.front(), clean_detail);
}

ForkOutcome fork_with_deadline(const std::function<int()>& body, std::chrono::duration<double> deadline) {
  ForkOutcome out;
  const auto start = std::chrono::steady_clock::now();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork() failed");
  if (pid == 0) {
    // The child must never outlive the test: killed with its parent.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) std::_Exit(99);
    int rc = 98;
    try {
      rc = body();
    } catch (...) {
      rc = 97;
    }
    std::_Exit(rc);
  }
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == pid) break;
    if (out.seconds >= deadline.count()) {
      out.hung = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  set_wait_status(status, out);
  return out;
}

}  // namespace torchstress::known_bugs
