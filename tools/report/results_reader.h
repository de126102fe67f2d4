// Reads one run's results: every *.jsonl under a folder (the lines support/results.h writes),
// matched up per file: "start" lines against "test" lines (a start with no result means the
// process ended midway), "round" and "bench" lines against the test that wrote them.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "json.h"

namespace tsreport {

// An unreadable or corrupt input: `what()` is the one line the user sees.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ProcessRecord {
  std::string file, binary, torch, device, hardware, inventory, cuda_streams, sync, inject, host;
  double time = 0.0;
};

struct TestRecord {
  std::string name, suite, binary, status, device, skip_reason, file;
  double duration_s = 0.0;
  double time = 0.0;
  Json properties;
  std::vector<std::string> failures;
};

struct RoundRecord {
  std::string test, status, detail, crash_signature;
  int round = 0;
};

// A test that started and never wrote its result (the process crashed or was killed), or stalled.
struct IncompleteRecord {
  std::string name, binary, file, why;
};

struct RunData {
  std::string dir;
  std::vector<std::string> files;
  std::vector<ProcessRecord> processes;
  std::vector<TestRecord> tests;    // the latest result of each test, in order of appearance
  std::vector<RoundRecord> rounds;  // of the kept results (and of tests that never ended)
  std::vector<Json> bench;          // "bench" lines of the kept results
  std::vector<IncompleteRecord> incomplete;
  std::vector<std::string> warnings;  // e.g. a truncated last line
  // Files written by fault-injection child runs (a self-test runs the suite with TORCHSTRESS_INJECT
  // to prove it fails): left out when the folder also holds the real run's files.
  std::vector<std::string> injected_files;
  double first_time = 0.0;
  double last_time = 0.0;

  const TestRecord* find(const std::string& name) const;
};

// Throws InputError when the folder is missing, holds no *.jsonl, or a line is not valid JSON.
RunData read_results(const std::string& dir);

}  // namespace tsreport
