// The seed's benchmarks. Bench.ScalingCurves: the `mlp` workload at batch 1 on 1..16 threads, a
// sync and a check after every op, against (a) the seed's pipelined single-thread baseline and
// (b) the 1-thread threaded rate. Bench.Batching: one thread, mlp at batch 1..256, pipelined.
// Correctness is asserted (every output is checked); speed never is. Each benchmark prints its
// table and writes it to the results log as a "bench" line for tools/report. The *Smoke cases run
// the same code at toy sizes in the quick tier so it never rots.
#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/stats.h"

namespace torchstress {
namespace {

TORCHSTRESS_BINARY_SECTION(bench);

// The seed's baseline: one thread issues 300 ops back to back and syncs once at the end. That is
// why the seed's 1-thread threaded row reads 0.23x: it pays a sync per op, the baseline does not.
constexpr long kSeedPipelinedOps = 300;

struct ScalingConfig {
  std::vector<long> threads;
  long ops_per_thread;
  long repetitions;
  long pipelined_ops;
};

struct BatchingConfig {
  long max_batch;
  long iterations;
  long repetitions;
};

// ---- timing helpers -------------------------------------------------------------------------

std::string json_num(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "null"; }

// The seed's pipelined baseline, a mode of the runner: one thread issues `ops` ops back to back
// and syncs once; every output is kept and checked after the clock stops (at that sync), so
// checking adds no sync to the timed region. The watchdog turns a hang (in an op or in the final
// sync) into a message naming the op.
RunResult RunPipelined(Workload& w, RunSpec spec, long ops) {
  spec.threads = 1;
  spec.iterations = ops;
  spec.duration = std::chrono::duration<double>(0.0);
  spec.sync = SyncPolicy::kNone;
  spec.check_each_op = true;
  spec.defer_checks = true;
  spec.keep_prepared = true;
  return run_workload(w, spec);
}

// Repetitions of several points, interleaved and rotated (as oneTBB rotates thread counts) so
// that no point always runs last on a warm machine, and slow drift spreads over every point.
template <typename RunPoint>
void RunInterleaved(size_t points, long repetitions, RunPoint run_point) {
  for (long rep = 0; rep < repetitions; ++rep) {
    for (size_t k = 0; k < points; ++k) run_point((k + static_cast<size_t>(rep)) % points);
  }
}

void append(std::vector<ErrorRecord>& to, const std::vector<ErrorRecord>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// ---- scaling curves -------------------------------------------------------------------------

struct ScalingRow {
  long threads = 0;
  Summary ops_per_s;
  double speedup_vs_pipelined = 0.0;
  double efficiency_vs_pipelined = 0.0;
  double speedup_vs_1thread = 0.0;
  double efficiency_vs_1thread = 0.0;
};

struct ScalingTable {
  std::string device;
  std::string cuda_streams;
  std::string sync;
  Summary pipelined;
  std::vector<ScalingRow> rows;
};

ScalingTable RunScaling(const ScalingConfig& c, const RunSpec& policy, std::vector<ErrorRecord>& errors) {
  auto w = make_workload("mlp", device_under_test(), 1);
  std::vector<long> counts = c.threads;
  if (std::find(counts.begin(), counts.end(), 1L) == counts.end()) counts.insert(counts.begin(), 1);  // reference (b)

  auto threaded = [&](long threads, long ops) {
    RunSpec spec = policy;
    spec.threads = static_cast<int>(threads);
    spec.iterations = ops;
    spec.check_each_op = true;
    RunResult r = run_workload(*w, spec);  // wall time starts at gate opening: creation untimed
    append(errors, r.errors);
    if (r.total_ops != threads * ops) {
      errors.push_back(ErrorRecord::at(ErrorKind::kException, -1, -1, "mlp", r.device,
                                       fmt::format("{} threads ran {} ops, expected {}", threads, r.total_ops,
                                                   threads * ops)));
    }
    return r.ops_per_second;
  };

  // Warm-up: every point once, untimed (allocator caches, kernels, thread pools), still checked.
  append(errors, RunPipelined(*w, policy, std::max(1L, c.pipelined_ops / 10)).errors);
  for (long t : counts) threaded(t, std::max(1L, c.ops_per_thread / 5));

  // Point 0 is the pipelined baseline; point k >= 1 is counts[k - 1] threads.
  std::vector<std::vector<double>> samples(counts.size() + 1);
  RunInterleaved(samples.size(), c.repetitions, [&](size_t k) {
    if (k == 0) {
      RunResult p = RunPipelined(*w, policy, c.pipelined_ops);
      append(errors, p.errors);
      if (p.wall_seconds > 0) samples[0].push_back(static_cast<double>(c.pipelined_ops) / p.wall_seconds);
    } else {
      samples[k].push_back(threaded(counts[k - 1], c.ops_per_thread));
    }
  });

  ScalingTable table;
  table.device = device_label(device_under_test());
  table.cuda_streams = to_string(policy.cuda_streams);
  table.sync = to_string(policy.sync);
  table.pipelined = summarize(samples[0]);
  double one_thread = 0.0;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] == 1) one_thread = summarize(samples[k + 1]).median;
  }
  for (size_t k = 0; k < counts.size(); ++k) {
    ScalingRow row;
    row.threads = counts[k];
    row.ops_per_s = summarize(samples[k + 1]);
    const double n = static_cast<double>(row.threads);
    if (table.pipelined.median > 0) row.speedup_vs_pipelined = row.ops_per_s.median / table.pipelined.median;
    if (one_thread > 0) row.speedup_vs_1thread = row.ops_per_s.median / one_thread;
    row.efficiency_vs_pipelined = row.speedup_vs_pipelined / n;
    row.efficiency_vs_1thread = row.speedup_vs_1thread / n;
    table.rows.push_back(row);
  }
  return table;
}

void PrintScaling(const ScalingTable& t, const ScalingConfig& c) {
  std::string out = fmt::format(
      "\nScaling curves: mlp batch 1 on {} (CUDA streams {}, sync {}), {} ops/thread, sync + check per op, "
      "median of {}\n",
      t.device, t.cuda_streams, t.sync, c.ops_per_thread, c.repetitions);
  out += fmt::format("Pipelined single-thread baseline ({} ops, one sync): {:.1f} ops/s (spread {:.1f}%)\n",
                     c.pipelined_ops, t.pipelined.median, 100.0 * t.pipelined.spread);
  out += fmt::format("{:>7} | {:>12} | {:>7} | {:>20} | {:>20}\n", "Threads", "Ops/s median", "Spread",
                     "vs pipelined: x / eff", "vs 1 thread: x / eff");
  for (const auto& r : t.rows) {
    out += fmt::format("{:>7} | {:>12.1f} | {:>6.1f}% | {:>9.2f}x / {:>6.1f}% | {:>9.2f}x / {:>6.1f}%\n", r.threads,
                       r.ops_per_s.median, 100.0 * r.ops_per_s.spread, r.speedup_vs_pipelined,
                       100.0 * r.efficiency_vs_pipelined, r.speedup_vs_1thread, 100.0 * r.efficiency_vs_1thread);
  }
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

void RecordScaling(const ScalingTable& t, const ScalingConfig& c, const std::string& prefix) {
  std::string rows = "[";
  for (const auto& r : t.rows) {
    if (rows.size() > 1) rows += ',';
    rows += fmt::format(
        "{{\"threads\":{},\"ops_per_s\":{},\"min\":{},\"max\":{},\"spread\":{},\"samples\":{},"
        "\"speedup_vs_pipelined\":{},\"efficiency_vs_pipelined\":{},\"speedup_vs_1thread\":{},"
        "\"efficiency_vs_1thread\":{}}}",
        r.threads, json_num(r.ops_per_s.median), json_num(r.ops_per_s.min), json_num(r.ops_per_s.max),
        json_num(r.ops_per_s.spread), c.repetitions, json_num(r.speedup_vs_pipelined),
        json_num(r.efficiency_vs_pipelined), json_num(r.speedup_vs_1thread), json_num(r.efficiency_vs_1thread));
    record(fmt::format("{}threads_{}_ops_per_s", prefix, r.threads), r.ops_per_s.median);
    record(fmt::format("{}threads_{}_spread", prefix, r.threads), r.ops_per_s.spread);
    record(fmt::format("{}threads_{}_speedup_vs_pipelined", prefix, r.threads), r.speedup_vs_pipelined);
    record(fmt::format("{}threads_{}_efficiency_vs_1thread", prefix, r.threads), r.efficiency_vs_1thread);
  }
  rows += ']';
  record(prefix + "pipelined_ops_per_s", t.pipelined.median);
  const std::string pipelined = fmt::format("{{\"ops\":{},\"ops_per_s\":{},\"min\":{},\"max\":{},\"spread\":{}}}",
                                            c.pipelined_ops, json_num(t.pipelined.median), json_num(t.pipelined.min),
                                            json_num(t.pipelined.max), json_num(t.pipelined.spread));
  results_log().append(JsonLine()
                           .add("type", "bench")
                           .add("bench", "scaling")
                           .add("test", current_test_name())
                           .add("workload", "mlp")
                           .add("batch", 1)
                           .add("device", t.device)
                           .add("cuda_streams", t.cuda_streams)
                           .add("sync", t.sync)
                           .add("ops_per_thread", c.ops_per_thread)
                           .add("repetitions", c.repetitions)
                           .add_raw("pipelined", pipelined)
                           .add_raw("rows", rows));
}

// Under CUDA the sweep runs once per stream policy and sync policy (each set in its RunSpec);
// elsewhere the policies do not apply and it runs once, with the knobs' policies.
std::vector<std::pair<StreamPolicy, SyncPolicy>> PoliciesToBenchmark() {
  if (!device_under_test().is_cuda()) return {{knobs().cuda_streams, knobs().sync}};
  return {{StreamPolicy::kShared, SyncPolicy::kStream},
          {StreamPolicy::kShared, SyncPolicy::kDevice},
          {StreamPolicy::kPerThread, SyncPolicy::kStream},
          {StreamPolicy::kPerThread, SyncPolicy::kDevice}};
}

void BenchScaling(const ScalingConfig& c) {
  std::vector<ErrorRecord> errors;
  const auto policies = PoliciesToBenchmark();
  for (const auto& [streams, sync] : policies) {
    RunSpec policy = run_spec_from_knobs();
    policy.cuda_streams = streams;
    policy.sync = sync;
    ScalingTable t = RunScaling(c, policy, errors);
    PrintScaling(t, c);
    const std::string prefix = policies.size() > 1 ? fmt::format("{}_{}.", t.cuda_streams, t.sync) : "";
    RecordScaling(t, c, prefix);
  }
  EXPECT_THAT(errors, HasNoErrors());
}

// ---- batching -------------------------------------------------------------------------------

struct BatchingRow {
  long batch = 0;
  Summary samples_per_s;
  double speedup = 0.0;
};

std::vector<long> BatchSizes(long max_batch) {
  std::vector<long> b;
  for (long n = 1; n <= max_batch; n *= 2) b.push_back(n);
  if (b.back() != max_batch) b.push_back(max_batch);
  return b;
}

void BenchBatching(const BatchingConfig& c) {
  const auto batches = BatchSizes(c.max_batch);
  const RunSpec policy = run_spec_from_knobs();
  std::vector<std::unique_ptr<Workload>> workloads;
  std::vector<ErrorRecord> errors;
  for (long b : batches) {
    workloads.push_back(make_workload("mlp", device_under_test(), static_cast<int>(b)));
    append(errors, RunPipelined(*workloads.back(), policy, std::max(1L, c.iterations / 10)).errors);  // warm-up
  }
  std::vector<std::vector<double>> samples(batches.size());
  RunInterleaved(batches.size(), c.repetitions, [&](size_t k) {
    RunResult p = RunPipelined(*workloads[k], policy, c.iterations);
    append(errors, p.errors);
    if (p.wall_seconds > 0) samples[k].push_back(static_cast<double>(batches[k] * c.iterations) / p.wall_seconds);
  });

  std::vector<BatchingRow> rows;
  for (size_t k = 0; k < batches.size(); ++k) {
    BatchingRow r;
    r.batch = batches[k];
    r.samples_per_s = summarize(samples[k]);
    rows.push_back(r);
  }
  const double base = rows.front().samples_per_s.median;
  for (auto& r : rows) r.speedup = base > 0 ? r.samples_per_s.median / base : 0.0;

  const std::string device = device_label(device_under_test());
  std::string out = fmt::format(
      "\nBatching: mlp on {}, one thread, {} pipelined iterations per point (one sync), every output checked, "
      "median of {}\n{:>6} | {:>16} | {:>7} | {:>8}\n",
      device, c.iterations, c.repetitions, "Batch", "Samples/s median", "Spread", "Speedup");
  std::string json = "[";
  for (const auto& r : rows) {
    out += fmt::format("{:>6} | {:>16.1f} | {:>6.1f}% | {:>7.2f}x\n", r.batch, r.samples_per_s.median,
                       100.0 * r.samples_per_s.spread, r.speedup);
    if (json.size() > 1) json += ',';
    json += fmt::format(
        "{{\"batch\":{},\"samples_per_s\":{},\"min\":{},\"max\":{},\"spread\":{},\"samples\":{},\"speedup\":{}}}",
        r.batch, json_num(r.samples_per_s.median), json_num(r.samples_per_s.min), json_num(r.samples_per_s.max),
        json_num(r.samples_per_s.spread), c.repetitions, json_num(r.speedup));
    record(fmt::format("batch_{}_samples_per_s", r.batch), r.samples_per_s.median);
    record(fmt::format("batch_{}_speedup", r.batch), r.speedup);
  }
  json += ']';
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  results_log().append(JsonLine()
                           .add("type", "bench")
                           .add("bench", "batching")
                           .add("test", current_test_name())
                           .add("workload", "mlp")
                           .add("device", device)
                           .add("cuda_streams", to_string(policy.cuda_streams))
                           .add("sync", to_string(policy.sync))
                           .add("iterations", c.iterations)
                           .add("repetitions", c.repetitions)
                           .add_raw("rows", json));
  EXPECT_THAT(errors, HasNoErrors());
}

// ---- the cases ------------------------------------------------------------------------------

TEST(Bench, ScalingCurves) {
  BenchScaling({knobs().bench_threads, knobs().bench_ops, knobs().bench_repetitions, kSeedPipelinedOps});
}

TEST(Bench, Batching) {
  BenchBatching({knobs().bench_max_batch, knobs().bench_batch_iterations, knobs().bench_repetitions});
}

// Toy sizes of the same code for the quick tier: it must build, run, check and record.
TEST(Bench, ScalingCurvesSmoke) { BenchScaling({{1, 2}, 3, 2, 10}); }
TEST(Bench, BatchingSmoke) { BenchBatching({4, 3, 2}); }

}  // namespace
}  // namespace torchstress
