// Helpers of the training tests: a trace (every value one thread's training produced, in order),
// the exact comparison of two traces, and the run that holds each thread's concurrent trace to
// its replay alone. No concurrency primitive is defined here; the threads come from support/.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "torchstress/device_sync.h"
#include "torchstress/error_sink.h"
#include "torchstress/intra_op_threads.h"
#include "torchstress/knobs.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/seeded.h"
#include "torchstress/value_oracle.h"

namespace torchstress::training {

// What one thread's training produced: ("step 3 loss", tensor), ("parameter 0.weight", tensor), ...
using Trace = std::vector<std::pair<std::string, at::Tensor>>;

inline void Append(Trace& trace, std::string what, const at::Tensor& value) {
  trace.emplace_back(std::move(what), value.defined() ? value.detach().clone() : at::Tensor());
}

// Seeded float values rounded to quarters in [-2, 2]: products and sums of a few stay exact in float.
inline at::Tensor SeededQuarters(at::IntArrayRef shape, uint64_t seed) {
  return seeded_randn(shape, seed).mul(4).round().clamp(-8, 8).div(4);
}

// What a replay may differ by, per element. Exact on the CPU: the replay runs the same kernels,
// so any difference is the threads' doing. On an accelerator a library may pick another kernel for
// another stream or workspace (cuBLAS's reproducibility notes), so floats get rtol = atol = 1e-6
// (chosen, not yet measured on a GPU: docs/sweep.md's tolerance table says so).
inline Tolerance AllowedReplayDifference(const at::Tensor& want) {
  if (want.device().is_cpu() || !want.is_floating_point()) return Tolerance{};
  return Tolerance{1e-6, 1e-6};
}

// Appends a wrong-value record to `errors` unless `got` matches `want` element by element, judged
// by the host oracle (value_oracle.h: never ATen beside the threads; a NaN passes only against a
// NaN). An undefined `got` fails.
inline bool ExpectIdentical(std::vector<ErrorRecord>& errors, int thread, const std::string& what,
                            const at::Tensor& got, const at::Tensor& want) {
  const std::string device = want.device().str();
  const Tolerance tol = AllowedReplayDifference(want);
  const Comparison c = compare_on_host(to_host(got), to_host(want), tol);
  if (c.ok()) return true;
  ErrorRecord e = ErrorRecord::at(ErrorKind::kWrongValue, thread, -1, what, device, c.describe());
  e.max_abs_diff = c.max_diff;
  errors.push_back(e);
  return false;
}

// Every difference between `got` and `want` (entry names, count, values), as wrong-value records.
inline std::vector<ErrorRecord> CompareTraces(int thread, const std::string& op, const Trace& got,
                                              const Trace& want) {
  std::vector<ErrorRecord> errors;
  if (got.size() != want.size()) {
    errors.push_back(ErrorRecord::at(ErrorKind::kWrongValue, thread, -1, op, "",
                                     fmt::format("trace has {} values, replay {}", got.size(), want.size())));
  }
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const std::string what = op + ": " + want[i].first;
    if (got[i].first != want[i].first) {
      errors.push_back(ErrorRecord::at(ErrorKind::kWrongValue, thread, -1, what, "", "entry " + got[i].first));
      continue;
    }
    ExpectIdentical(errors, thread, what, got[i].second, want[i].second);
  }
  return errors;
}

// The fixtures of this binary: the scenarios and the proofs that their checks catch a wrong value.
// One intra-op thread while a test runs. Measured on the 2-core box: with 2 intra-op threads,
// libgomp teams spin-waiting at their barriers (THREADS teams at once, or one team beside a busy
// build) turned 0.2 s BatchNorm runs into up to 38 s, and single-threaded ones into 19 s
// (OMP_WAIT_POLICY=PASSIVE cured it too): that measures libgomp, not the scenario.
class Training : public ::testing::Test {
 private:
  ScopedIntraOpThreads serial_cpu_kernels_{1};
};
class TrainingChecks : public Training {};

// The knobs' run settings (deadlines, CUDA stream policy) for the THREADS knob's thread count.
inline RunSpec TrainingSpec() {
  RunSpec spec = run_spec_from_knobs();
  spec.threads = knobs().threads;
  return spec;
}

// A run's figures and errors, for record_run(): one op per thread (its whole training), failed
// when any of its values or its exception is recorded.
inline RunResult TrainingResult(const RunSpec& spec, const std::string& op, const c10::Device& device,
                                std::vector<ErrorRecord> errors, double wall_seconds) {
  RunResult r;
  r.workload = op;
  r.device = device.str();
  r.threads = spec.threads;
  r.ops_per_thread.assign(static_cast<size_t>(spec.threads), 1);
  r.total_ops = spec.threads;
  r.wall_seconds = wall_seconds;
  r.results = spec.results;
  std::vector<bool> failed(static_cast<size_t>(spec.threads), false);
  for (const auto& e : errors) {
    ++r.error_counts[to_string(e.kind)];
    if (e.thread >= 0 && e.thread < spec.threads) failed[static_cast<size_t>(e.thread)] = true;
  }
  r.failed_ops = std::count(failed.begin(), failed.end(), true);
  r.errors = std::move(errors);
  return r;
}

// Runs trace_of(t) on every thread of `spec` at once (released together by the start gate, watched
// by the watchdog), then replays each thread's trace_of(t) alone on this thread; the result holds
// every exception and every difference between a concurrent trace and its replay. The concurrent
// traces go to `concurrent` when given (for checks of their own, e.g. a statistic).
inline RunResult ConcurrentTracesMatchAlone(const RunSpec& spec, const std::string& op, const c10::Device& device,
                                            const std::function<Trace(int thread)>& trace_of,
                                            std::vector<Trace>* concurrent = nullptr) {
  std::vector<Trace> together(static_cast<size_t>(spec.threads));
  const auto start = std::chrono::steady_clock::now();
  std::vector<ErrorRecord> errors = run_once_released_together(spec, op, device, [&](int t, ErrorSink&) {
    WorkerStreamScope stream(device, spec.cuda_streams);
    together[static_cast<size_t>(t)] = trace_of(t);
    sync_thread_work(device, spec.sync);
  });
  sync_device(device);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int t = 0; t < spec.threads; ++t) {
    const Trace& got = together[static_cast<size_t>(t)];
    const bool threw = std::any_of(errors.begin(), errors.end(), [t](const ErrorRecord& e) { return e.thread == t; });
    if (got.empty() && threw) continue;  // its exception is already recorded; an empty trace without one fails
    for (auto& e : CompareTraces(t, op, got, trace_of(t))) errors.push_back(std::move(e));
  }
  if (concurrent) *concurrent = std::move(together);
  return TrainingResult(spec, op, device, std::move(errors), wall);
}

}  // namespace torchstress::training
