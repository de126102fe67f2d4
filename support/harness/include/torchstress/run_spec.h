// RunSpec: everything one run needs (threads, length, deadlines, CUDA stream and sync policy, fault
// injection, progress, where results go), handed to the runner by value; the harness reads no knob and no environment.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "torchstress/results_sink.h"

namespace torchstress {

// Which stream a CUDA worker issues on: the default stream shared by all, or a pool stream each.
enum class StreamPolicy { kShared, kPerThread };
// What a worker waits for after each op: its own stream's work, or every thread's work on the device.
enum class SyncPolicy { kStream, kDevice };
const char* to_string(StreamPolicy p);
const char* to_string(SyncPolicy p);

// A fault to inject, a test aid (see fault.h for what each kind does); kNone: no injection.
enum class FaultKind { kNone, kThrow, kWrong, kNan, kSegv, kAbort, kHang, kRace, kCrashSignature };

struct FaultSpec {
  FaultKind kind = FaultKind::kNone;
  int thread = 0;
  long iteration = 0;
  std::string signature;  // for kCrashSignature: a recorded crash sample's name
};

struct Progress {
  double elapsed_s;
  long ops;
  double current_ops_per_s;  // over the last interval
  size_t errors;
};

// Defaults are the knob defaults of the suite (support/suite/include/torchstress/knobs.def).
struct RunSpec {
  int threads = 1;
  long iterations = 0;                                 // per thread; used when duration is zero
  std::chrono::duration<double> duration{0.0};         // run until it elapses
  std::chrono::duration<double> gate_deadline{60.0};   // for every worker to reach the start gate
  std::chrono::duration<double> stall_deadline{30.0};  // a worker without progress this long is stuck
  StreamPolicy cuda_streams = StreamPolicy::kShared;
  SyncPolicy sync = SyncPolicy::kStream;
  FaultSpec fault;

  // Pipelined mode (the bench's baseline): sync_each_op = false issues ops back to back and syncs
  // once at the end; with defer_checks every output is kept and checked only after that final
  // sync, outside the timed region (wall_seconds ends at the sync).
  bool sync_each_op = true;
  bool check_each_op = true;
  bool defer_checks = false;
  // Reuse the workload's inputs and references when it is already prepared for `threads` or more
  // (repeated bench points); otherwise the runner prepares it first.
  bool keep_prepared = false;

  std::chrono::duration<double> progress_interval{0.0};
  std::function<void(const Progress&)> on_progress;

  // Where figures, typed errors, backtraces and a stall record go; none: discarded.
  std::shared_ptr<ResultsSink> results;
  ResultsSink& results_sink() const { return results ? *results : discarding_sink(); }
};

// How isolated rounds run: how many, each one's deadline, and the pass rate they must reach.
struct RoundsSpec {
  int rounds = 1;
  std::chrono::duration<double> round_timeout{120.0};
  double pass_threshold = 1.0;
  // Where each round's record and the summary's figures go; none: discarded.
  std::shared_ptr<ResultsSink> results;
  ResultsSink& results_sink() const { return results ? *results : discarding_sink(); }
};

}  // namespace torchstress
