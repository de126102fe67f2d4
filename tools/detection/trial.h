// One trial of the detection measurement: the suite's own battery binary, run as a child process
// on one op of an op library (TORCHSTRESS_WORKLOAD=op:<ns>::<op>) in one test mode, and what the
// suite said about it: caught or not, classified from the results it wrote (typed records), the
// child's exit, and any sanitizer report in its output.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace tsdetect {

// The suite's test modes a trial can run, and the battery tests each one is.
//   quick:    Workload.* with the defaults: what a user's op gets in the quick tier (the default
//             BUDGET_SECONDS: cold rounds, then warm threaded work and a pipelined soak)
//   release:  the same with BUDGET_SECONDS = kReleaseBudgetSeconds (a release gate's budget)
//   threaded: Workload.Threaded alone (the budget's warm part)
//   cold:     Workload.ColdRounds alone (the budget's cold part)
//   soak:     Soak.EightThreadsShort for TrialSpec::soak_seconds
inline constexpr const char* kModes[] = {"quick", "release", "threaded", "cold", "soak"};
inline constexpr double kReleaseBudgetSeconds = 10.0;
bool is_mode(const std::string& mode);

struct TrialSpec {
  std::string battery;     // path of torchstress_battery
  std::string op_library;  // TORCHSTRESS_OP_LIBRARY
  std::string op;          // "<ns>::<op>"
  std::string mode;        // one of kModes
  std::string device = "cpu";
  double soak_seconds = 5.0;
  double stall_seconds = 0.0;  // the watchdog's deadline (TORCHSTRESS_STALL_SECONDS); 0: the knob's default
  std::map<std::string, std::string> env;  // more knobs (e.g. TORCHSTRESS_CUDA_STREAMS)
  std::vector<std::string> wrapper;        // e.g. {"compute-sanitizer", "--tool", "memcheck"}
  std::string scratch;                     // a folder of its own for the child's results
};

struct TrialOutcome {
  bool caught = false;
  // "wrong value", "NaN/Inf", "exception", "crash", "hang", "sanitizer report", or
  // "failed (unclassified)" for a failing exit with nothing typed to say why.
  std::string kind;
  double seconds = 0.0;  // time to detect: the first error's time when recorded, else the child's run
  std::string detail;    // one line: the child's exit and first failure
};

TrialOutcome run_trial(const TrialSpec& spec);

// One bug of an op library's catalogue (a JSON array; tests/detection/zoo_catalogue.json): the
// buggy op, its correct twin, where it runs, what the bug is, the symptom it should produce
// ("wrong value", or alternatives "wrong value|crash"), the mode its CTest detection test uses,
// and knobs it needs (e.g. per-thread CUDA streams).
struct CatalogueEntry {
  std::string op, twin, device, bug_class, expected, test_mode;
  std::map<std::string, std::string> env;
  bool expects(const std::string& kind) const;  // `kind` is one of expected's alternatives
};
// For test names and failure messages: the op's name.
inline void PrintTo(const CatalogueEntry& c, std::ostream* os) { *os << c.op; }
// Throws std::runtime_error naming the file when it is not such an array.
std::vector<CatalogueEntry> read_catalogue(const std::string& path);

}  // namespace tsdetect
