// Reads one run's results: every *.jsonl under a folder (the lines support/results.h writes),
// matched up per file: "start" lines against "test" lines (a start with no result means the
// process ended midway), "round" and "bench" lines against the test that wrote them. "detection"
// lines (detection power, tools/detection) belong to no test: they are read as typed cells.
//
// Lines carry "schema": "torchstress-results/2" and typed fields (a test's section, its worker
// errors with kind/thread/iteration/op, numeric counts). Files written before that (no schema:
// version 1) are upgraded line by line by upgrade_v1_line (results_compat.cpp), the one place that
// still recovers fields from texts and names; everything after reads the typed fields only.
//
// Every result line counts: a test that appears several times (--gtest_repeat in one file, ctest
// --repeat or several runs into one folder across files) becomes ONE TestRecord holding every
// repeat, and any failing repeat fails the test. Figures come from one representative repeat.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "report_json.h"
#include "torchstress/detection_table.h"

namespace tsreport {

// An unreadable or corrupt input: `what()` is the one line the user sees.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kResultsSchema = "torchstress-results/2";
// What a test declares it belongs to; the report's sections are chosen by it.
inline constexpr const char* kSections[] = {"parallel", "soak",       "stress",   "isolation",
                                            "bench",    "regression", "selftest", "other"};

// Turns a version-1 line (no "schema") into the version-2 shape, in place: a test's section from
// its suite name, "successes": "398/400" into numbers, "error_kinds" text into "error_counts",
// worker errors parsed out of the failure texts (and a round's detail), a bench line's "smoke"
// from its test name. Lines of other types pass unchanged.
void upgrade_v1_line(Json& line);

// A file's "process" line. executable, build_dir, knobs and provenance are absent (empty) in files
// written before the harness recorded them.
struct ProcessRecord {
  std::string file, binary, torch, device, hardware, inventory, cuda_streams, sync, inject, host;
  std::string executable;  // absolute path of the test binary
  std::string build_dir;   // the CMake build folder (CTest's --test-dir)
  Json knobs;              // object: TORCHSTRESS_* variables overridden from the environment
  Json provenance;         // object: torch_version, blas, compiler, show_config, ...
  double time = 0.0;
};

struct RoundRecord {
  std::string test, status, detail, crash_signature, stderr_tail, file;
  Json errors = Json::array();  // typed worker errors of the round (optional "errors" field)
  int round = 0;
  int run = 1;  // which repeat of its test wrote it (1-based, in time order)
};

// One result of a test: one repeat. status "incomplete" for a start that never wrote its result.
struct TestResult {
  std::string status, device, skip_reason, file;
  std::string section;  // "parallel", "soak", ... (kSections); "" for a start that never ended without one
  double duration_s = 0.0;
  double time = 0.0;
  Json properties;
  std::vector<std::string> failures;
  std::vector<std::string> backtraces;  // C++ backtraces of worker failures
  std::vector<Json> bench;              // "bench" lines this repeat wrote
  // Typed worker errors: {kind, thread, iteration, op, device, message, max_abs_diff}.
  Json errors = Json::array();
  Json error_counts = Json::object();  // kind -> count (over every worker error, not only those listed)
  // A crash or stall record's state of every worker when it happened: [{thread, op, iteration,
  // input, finished, ops_done, seconds_since_progress}]; and a crash's signal ("SIGSEGV").
  Json workers = Json::array();
  std::string signal;
};

struct TestRecord {
  // The gtest name, or the CTest test's (TORCHSTRESS_CTEST_NAME) when its process ran under one that
  // is not named after its gtest case (add_test with --gtest_filter: several CTest tests, one case).
  std::string name, suite, binary;
  std::string gtest_name;  // the gtest case that ran
  // A control (a test that must see a failure): the one kind it must see ("wrong value",
  // "exception", "crash", "hang"), from its process's TORCHSTRESS_CONTROL or the test's own
  // "control_expected" property; "" for a test. Controls are kept apart from the tests.
  std::string control;
  bool control_self_judged = false;  // the test's own verdict says whether it caught (detection tests)
  std::string section;  // declared by the test (the first repeat that names one), else "other"
  // From all repeats: failed if any repeat failed (or wrote an unknown status), else stalled if any
  // stalled, else incomplete if any ended midway, else passed if any passed, else skipped.
  std::string status;
  // From the representative repeat (the last passing one, else the last that ran, else the last).
  std::string device, skip_reason, file;
  double duration_s = 0.0;
  double time = 0.0;  // of the first repeat: tests are listed in the order they first appeared
  Json properties;
  std::vector<std::string> failures;    // of every repeat that did not pass, in order
  std::vector<std::string> backtraces;  // of every repeat that did not pass, in order
  std::vector<TestResult> results;      // every repeat, in time order

  int runs() const { return static_cast<int>(results.size()); }
  int count(const std::string& status) const;  // repeats with this status
  int ran() const { return runs() - count("skipped"); }
  int not_passed() const { return ran() - count("passed"); }
};

// A test that started and never wrote its result (the process crashed or was killed), or stalled.
// One per occurrence: a test that stalled in two repeats is listed twice.
struct IncompleteRecord {
  std::string name, binary, file, why;
};

struct RunData {
  std::string dir;
  std::vector<std::string> files;
  std::vector<ProcessRecord> processes;
  std::vector<TestRecord> tests;    // one per test name, in order of first appearance
  std::vector<RoundRecord> rounds;  // of every repeat (and of starts that never ended)
  std::vector<Json> bench;          // "bench" lines of each test's representative repeat
  // "detection" lines (tools/detection: one per op, mode, instrument and device), in file order.
  std::vector<torchstress::DetectionCell> detection;
  std::vector<IncompleteRecord> incomplete;
  std::vector<std::string> warnings;  // e.g. a truncated last line
  // Files written by fault-injection child runs (a self-test runs the suite with TORCHSTRESS_INJECT
  // to prove it fails): left out when the folder also holds the real run's files.
  std::vector<std::string> injected_files;
  double first_time = 0.0;
  double last_time = 0.0;

  const TestRecord* find(const std::string& name) const;
  // The process line of a results file (nullptr when the file has none).
  const ProcessRecord* process_of(const std::string& file) const;
};

// Throws InputError when the folder is missing, holds no *.jsonl, or a line is not valid JSON (or
// is a "detection" line that cannot be placed in the detection table).
RunData read_results(const std::string& dir);

}  // namespace tsreport
