// RunSpec: everything one run needs (threads, length, deadlines, CUDA stream and sync policy, fault
// injection, progress, where results go), handed to the runner by value; the harness reads no knob and no environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>

#include "torchstress/results_sink.h"

namespace torchstress {

// Which stream a CUDA worker issues on: the default stream shared by all, or a pool stream each.
enum class StreamPolicy { kShared, kPerThread };
// What a worker waits for after each op: its own stream's work, every thread's work on the device,
// or nothing (pipelined: ops are issued back to back and the batch check every K ops syncs).
enum class SyncPolicy { kStream, kDevice, kNone };
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

// How a batched check holds an output until its batch is compared: kCopy copies it into the
// worker's batch buffer on the caller's stream right after the op, reading it when a consumer
// would (an output a side stream finishes late is caught, as by a check of each op); kKeep keeps
// the tensor itself and reads it only at the batch check (fastest; blind to late writes).
enum class CheckCapture { kCopy, kKeep };
const char* to_string(CheckCapture c);

// Schedule noise (probabilistic concurrency testing): at op boundaries, random short pauses or
// yields, and one randomly chosen thread delayed at random points, all drawn from `seed` so a
// failing interleaving can be replayed with the same seed. With quiet_period set, noise is off in
// every other period of that length (by the steady clock, so all threads go quiet together): pauses
// at op boundaries leave the OS few reasons to preempt a thread inside an op, and a race whose
// window needs that (a holder descheduled mid-claim) shows up to 30 times less often under noise.
struct NoiseSpec {
  double level = 0.0;  // chance of a pause at each op boundary; 0: off
  uint64_t seed = 0;
  std::chrono::duration<double> quiet_period{0.0};  // 0: noise all the time
  bool on() const { return level > 0.0; }
};

// PCT-style schedule exploration (Burckhardt et al., ASPLOS 2010, adapted to real threads on real
// cores): every epoch draws a random priority order of the threads from `seed` and depth - 1 change
// points in time; at op boundaries (and at the start gate) only the `running` highest-priority
// threads go on, the others wait (at most max_wait, so a blocked high-priority thread never
// starves them for long); at each change point the highest-priority thread drops to the lowest.
// Which threads overlap, and where, changes every change point and epoch, replayably from `seed`.
struct PctSpec {
  int depth = 0;  // d: priority change points per epoch + 1; 0: off
  uint64_t seed = 0;
  int running = 2;                                   // threads let through at once
  std::chrono::duration<double> epoch{0.05};         // fresh priorities this often
  std::chrono::duration<double> max_wait{0.002};     // longest a low-priority thread waits per boundary
  bool on() const { return depth > 0; }
};

// How a stress test's warm budget explores schedules. kMixed gives each explorer a part of the
// budget: uniform noise (warm threaded part), none at all (free-running part: the OS scheduler alone,
// which preempts threads inside ops, where the explorers' pauses at op boundaries make that rare)
// and PCT priorities (pipelined soak part). kNoise, kFree or kPct put that one in every part (for
// comparisons).
enum class SchedulePolicy { kMixed, kNoise, kFree, kPct };
const char* to_string(SchedulePolicy p);

// Variety of inputs (harness-made inputs that allow it: op:<ns>::<op> workloads and the sweep):
// ragged shapes per thread and per input, inputs copied into fresh allocations on seeded calls (so
// the allocator hands freed addresses to other threads while they run), and for an op: workload
// the dtype of each (thread, input) among `dtypes`, all drawn from `seed`.
struct VarietySpec {
  bool on = false;
  uint64_t seed = 0;
  // The floating dtypes the op accepts, found by Varied::probed() (empty: not probed, float32).
  std::vector<c10::ScalarType> dtypes;
};

// The time budget of one stress test: spent across warm threaded work under schedule noise
// (noise_share), warm threaded work free-running (free_share), a short pipelined soak under PCT
// priorities (soak_share) and cold rounds, each a fresh process whose threads make their first
// calls together (the rest; at least QUICK_ROUNDS rounds). Zero: the test's counts decide
// (iterations, rounds).
struct PressureSpec {
  std::chrono::duration<double> budget{0.0};
  double noise_share = 0.1;
  double free_share = 0.45;
  double soak_share = 0.15;
  bool on() const { return budget.count() > 0; }
  std::chrono::duration<double> noisy() const { return budget * noise_share; }
  std::chrono::duration<double> free_running() const { return budget * free_share; }
  std::chrono::duration<double> soak() const { return budget * soak_share; }
  std::chrono::duration<double> cold() const { return budget * (1.0 - noise_share - free_share - soak_share); }
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

  // Every output is checked, in batches: each worker keeps its outputs and every check_batch ops
  // compares them all at once (one fused comparison, one host read), so a wrong value still names
  // its thread, iteration and op; a crash or hang leaves at most check_batch ops per thread
  // unchecked. check_batch = 1 checks each op as it completes.
  int check_batch = 64;
  CheckCapture capture = CheckCapture::kKeep;
  // On the CPU there is no host read to amortise and a kept output leaves the cache before its
  // batch check, so each is checked at once; false batches there too (the self-tests of the batch
  // path, which CI can run only on the CPU).
  bool cpu_checks_each_op = true;
  // Distinct inputs per thread, each with its reference; iteration i uses input i % inputs_per_thread.
  int inputs_per_thread = 4;
  NoiseSpec noise;
  PctSpec pct;
  VarietySpec variety;
  // The budget this run belongs to (the tests split it into phases; the runner only reads
  // stop_at_first_error): a timed run stops once it has recorded an error (a failed test needs no
  // more pressure; the soaks, which count every error, leave it off).
  PressureSpec pressure;
  SchedulePolicy schedule = SchedulePolicy::kMixed;
  bool stop_at_first_error = false;
  // check_each_op = false: no checks at all (measures the runner's own cost). defer_checks: the
  // bench's baseline, every output kept and checked after the clock stops (wall_seconds ends at
  // the final sync), so checks add nothing to the timed region.
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
  int rounds = 1;  // with a budget: at least this many
  // Rounds go on while this lasts (0: exactly `rounds`); on the CPU each round is a fork of a
  // process that has run no op yet (milliseconds), elsewhere a re-executed binary (about a second).
  std::chrono::duration<double> budget{0.0};
  int max_rounds = 200;
  std::chrono::duration<double> round_timeout{120.0};
  double pass_threshold = 1.0;
  // Where each round's record and the summary's figures go; none: discarded.
  std::shared_ptr<ResultsSink> results;
  ResultsSink& results_sink() const { return results ? *results : discarding_sink(); }
};

}  // namespace torchstress
