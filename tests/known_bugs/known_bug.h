// Known upstream bugs as tests that must catch them. A test declares the upstream issue it pins,
// the LibTorch versions that have the bug, and what the bug does; then it runs its repro and hands
// over what the repro saw. On an affected LibTorch the test passes only when the repro CAUGHT the
// bug (a repro that stops catching it fails); on any other version only when the repro ran clean;
// where the op or API is absent it skips loudly with the reason. A negative control (the fixed
// twin, or the upstream workaround) declares no affected version, so it must run clean everywhere.
// Each verdict is written to the results as properties of the test (known_bug_*), which the
// report's "Known upstream bugs" section and its baseline gate read.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "torchstress/isolated_rounds.h"

namespace torchstress::known_bugs {

// A LibTorch release number (the local part, "+cu130", is dropped).
struct Version {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const Version&) const = default;
  std::string str() const;
};
// "2.11.0+cu130" -> 2.11.0, "1.13" -> 1.13.0; throws std::invalid_argument naming the text otherwise.
Version parse_version(const std::string& text);
// The LibTorch this binary was compiled and linked against (TORCH_VERSION).
Version libtorch_version();

// The LibTorch versions a bug is in: inclusive bounds, an unset bound is open; `text` is how the
// report prints the range ("<= 2.4.1 (fixed in 2.5.0)").
struct VersionRange {
  std::optional<Version> first, last;
  bool none = false;  // no version: a negative control
  std::string text;
  bool contains(const Version& v) const;
};
VersionRange up_to(const std::string& last, const std::string& text);
VersionRange every_version(const std::string& text);
VersionRange no_version(const std::string& text);

struct KnownBug {
  std::string upstream;   // "pytorch/pytorch#125186, #132715 (fix: PR #133938)"
  VersionRange affected;  // where the repro must catch it
  std::string reason;     // what the bug does, one line
  bool control() const { return affected.none; }
};

// What a repro saw.
enum class Seen {
  kCaught,  // the bug's symptom
  kClean,   // the repro ran and everything was right
  kAbsent,  // the op or API the repro needs is not in this LibTorch (a loud skip)
  kBroken,  // the repro itself could not run as written (a failure on every version)
};
struct Observation {
  Seen seen = Seen::kBroken;
  std::string symptom;  // for kCaught: "wrong dtype", "crash: SIGSEGV", "hang", "exception", "wrong value"
  std::string detail;   // one line: what the repro saw, or why it cannot run here
  static Observation caught(std::string symptom, std::string detail);
  static Observation clean(std::string detail);
  static Observation absent(std::string why);
  static Observation broken(std::string what);
};

// Records the verdict and fails the test where it must; returns false when the repro could not run
// here (the caller then skips). Use through TORCHSTRESS_EXPECT_KNOWN_BUG, last in a TEST body.
bool judge(const KnownBug& bug, const Observation& seen);
#define TORCHSTRESS_EXPECT_KNOWN_BUG(bug, observation)                                          \
  do {                                                                                          \
    const ::torchstress::known_bugs::Observation torchstress_seen_ = (observation);             \
    if (!::torchstress::known_bugs::judge((bug), torchstress_seen_)) GTEST_SKIP() << torchstress_seen_.detail; \
  } while (0)

// ---- repros in child processes ------------------------------------------------------------

// What a round body (run in a fresh process by run_isolated_rounds) returns when it saw the bug:
// "caught <symptom>: <detail>". "" means clean; any other text means the repro broke.
std::string caught_reason(const std::string& symptom, const std::string& detail);
// One isolated round's outcome as an observation: a crash signal or a round past its deadline is
// the bug caught (crash: SIGSEGV / hang); a "caught ..." reason too; other failures broke the repro.
Observation observe_round(const RoundOutcome& round, const std::string& clean_detail);
// Runs `body` in one isolated round (a fresh process of this binary, see isolated_rounds.h) and
// observes it. Must be called from a TEST body; in the round's own process it returns nothing
// meaningful (the caller returns when in_death_test_child()).
Observation observe_in_child(const RoundBody& body, const std::string& clean_detail);

// fork() without exec: the hazard C5 is about. The child runs `body` and exits with its return
// value; it is killed when its parent dies. The parent waits at most `deadline`, then kills it.
struct ForkOutcome {
  bool hung = false;  // still running at the deadline (then killed)
  bool signaled = false;
  int signal = 0;
  int exit_code = -1;
  double seconds = 0.0;
};
ForkOutcome fork_with_deadline(const std::function<int()>& body, std::chrono::duration<double> deadline);

}  // namespace torchstress::known_bugs
