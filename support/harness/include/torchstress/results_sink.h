// ResultsSink: where a run's results go. The harness writes only through the sink its RunSpec or
// RoundsSpec names (figures, typed errors, backtraces, stall and round records); the suite's
// results file (torchstress/results.h in support/suite) is one, a fork may pass its own. The
// base class discards everything: a run with no sink writes nothing. Callable from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "torchstress/error_sink.h"
#include "torchstress/results_schema.h"

namespace torchstress {

class ResultsSink {
 public:
  virtual ~ResultsSink() = default;

  // One results line (rounds, benchmarks); the sink adds its common fields.
  virtual void append(JsonLine /*line*/) {}
  // The watchdog's record of a stuck thread in `test` (a typed "stall" error), written before exit.
  virtual void append_stall(const std::string& /*test*/, const ErrorRecord& /*stall*/) {}
  // The same with every worker's state (`workers_json`: a JSON array of {thread, op, iteration,
  // input, finished, ops_done, ...}, as a crash record has it); a sink that keeps no such state
  // writes the stall alone.
  virtual void append_stall_with_workers(const std::string& test, const ErrorRecord& stall,
                                         const std::string& /*workers_json*/) {
    append_stall(test, stall);
  }
  // A named figure of the current test.
  virtual void record(const std::string& /*key*/, const std::string& /*value*/) {}
  virtual void record(const std::string& /*key*/, double /*value*/) {}
  // A run's typed errors and per-kind counts, for the current test's record.
  virtual void attach_errors(const std::vector<ErrorRecord>& /*errors*/,
                             const std::map<std::string, size_t>& /*counts*/) {}
  // A worker failure's C++ backtrace (`what`: its one-line description).
  virtual void attach_backtrace(const std::string& /*what*/, const std::string& /*backtrace*/) {}
};

// The sink that discards everything (stateless), for a spec that names none.
ResultsSink& discarding_sink();

// Name of the running GoogleTest test ("Suite.Name"), or "" outside a test.
std::string current_test_name();

}  // namespace torchstress
