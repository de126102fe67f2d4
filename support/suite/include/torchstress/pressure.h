// Pressure by time: every stress test of a workload or op (Workload.Threaded/ColdRounds, each op
// sweep case, a user's op or catalogue alike) spends the same budget (TORCHSTRESS_BUDGET_SECONDS,
// RunSpec::pressure): warm threaded work (sync per op) under schedule noise, then free-running
// (the OS scheduler alone), a short pipelined soak under PCT priorities, and cold rounds (fresh processes, forks on the CPU, whose threads make
// their first calls together). Inputs vary in shape per thread and per input, and in lifetime,
// from the run's seed. What a test applied (calls, seconds, rounds) is logged and recorded.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "torchstress/clean_references.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/runner.h"

namespace torchstress {

struct WarmPressure {
  RunResult threaded;  // under schedule noise (the whole run without a budget)
  RunResult free;      // free-running; not run (no ops) when a part before it failed, or without a budget
  RunResult soak;      // pipelined under PCT priorities; likewise
  bool soak_on_pool_streams = false;  // CUDA: the soak part issued on a pool stream per thread
  bool varied = false;  // the workload's inputs vary (op:<ns>::<op> and the sweep; not the seed's workloads)
  long calls() const { return threaded.total_ops + free.total_ops + soak.total_ops; }
  double seconds() const { return threaded.wall_seconds + free.wall_seconds + soak.wall_seconds; }
  std::vector<ErrorRecord> errors() const;
};

// The warm parts of spec.pressure on `w`, each stopping at its first error (and the next not run):
// threaded work under noise for pressure.noisy(), the same free-running for pressure.free_running(),
// then a pipelined soak under PCT (no sync per op; on CUDA a pool stream per thread unless
// CUDA_STREAMS is set) for pressure.soak(); SCHEDULE=noise|free|pct puts one explorer in all three. `w` is prepared
// here unless spec.keep_prepared. Without a budget: spec.iterations per thread, threaded only.
WarmPressure run_warm_pressure(Workload& w, RunSpec spec);
// record_run() of every part (the free-running part's figures prefixed free_, the soak's soak_), the pressure figures
// (pressure_calls, pressure_seconds) and one log line saying what was applied.
void record_warm_pressure(const WarmPressure& p);

// The cold part of spec_for_round(0).pressure: rounds for pressure.cold(), at least
// QUICK_ROUNDS (default 2); on the CPU each a fork of this (still cold) process, with varied
// shapes; elsewhere a re-executed binary. Each round's threads make their first call together and
// are checked against references made in a clean process (saved under `key`). Throws what the
// clean process's single-threaded prepare throws (e.g. no kernel for a dtype here).
RoundsSummary run_cold_pressure(const std::string& key, const WorkloadFactory& make,
                                const std::function<RunSpec(int round)>& spec_for_round);
// record_rounds() and the pressure line of cold rounds (cold_rounds, cold_seconds).
void record_cold_pressure(const RoundsSummary& s, double seconds);

}  // namespace torchstress
