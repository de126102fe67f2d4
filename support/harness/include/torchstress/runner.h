// Runner: N worker threads x M iterations (or for a duration) of a workload, released together
// by a start gate, watched by the hang watchdog, every output checked. Workers record; the
// caller asserts once on the returned errors (EXPECT_THAT(r.errors, HasNoErrors())).
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "torchstress/error_sink.h"
#include "torchstress/reference_file.h"
#include "torchstress/run_spec.h"
#include "torchstress/workloads.h"

namespace torchstress {

struct RunResult {
  std::string workload;
  std::string device;
  int threads = 0;
  std::vector<long> ops_per_thread;  // attempted ops, per thread
  long total_ops = 0;
  long failed_ops = 0;
  double wall_seconds = 0.0;  // gate opening to the last worker's end of work (its final sync);
                              // thread creation and deferred checks not included
  double ops_per_second = 0.0;
  double first_error_s = -1.0;  // gate opening to the first recorded error (time to detect); -1: none
  std::vector<ErrorRecord> errors;
  std::map<std::string, size_t> error_counts;  // by kind, including any not kept in `errors`
  std::vector<WarningRecord> warnings;
  NoiseSpec noise;                        // the spec's schedule noise (its seed replays the run)
  PctSpec pct;                            // the spec's PCT priorities, and how many epochs and
  long pct_epochs = 0;                    // change points the run went through
  long pct_changes = 0;
  VarietySpec variety;                    // the spec's input variety (its seed replays the shapes)
  std::shared_ptr<ResultsSink> results;  // the spec's sink, where record_run() writes

  long successes() const { return total_ops - failed_ops; }
  long min_thread_ops() const;
  long max_thread_ops() const;
  // "400/400"
  std::string success_ratio() const;
};

// Prepares `workload` for spec.threads (references first; see RunSpec::keep_prepared), then runs it.
RunResult run_workload(Workload& workload, const RunSpec& spec);

// A cold run of `workload`, for first-use races: inputs are uploaded but no op runs before the
// workers, who each make exactly one call, released together (run_once_released_together). Run it
// in a fresh process (an isolated round) so every cache the op builds is cold. The outputs are
// checked against `clean_references` ([thread][input 0], made in a clean process:
// reference_file.h); without them the references are computed afterwards in this process, where a
// first-use bug that stays for the process could make them wrong too. An undefined output fails.
RunResult run_cold(Workload& workload, const RunSpec& spec, const HostReferences* clean_references = nullptr);

// Cold, one-shot runs for first-use races: each of spec.threads workers runs `work` exactly once,
// all released together by the start gate and watched by the hang watchdog (spec's deadlines).
// Nothing is prepared or warmed up first (a workload's reference pass would warm the very caches
// under test), so `work` checks its own result and records wrong values in `sink`; exceptions are
// recorded here.
std::vector<ErrorRecord> run_once_released_together(const RunSpec& spec, const std::string& op,
                                                    const c10::Device& device,
                                                    const std::function<void(int thread, ErrorSink& sink)>& work);

// Records the usual figures of a run, prefixed, and its typed errors in the run's results sink.
void record_run(const RunResult& r, const std::string& prefix = "");

}  // namespace torchstress
