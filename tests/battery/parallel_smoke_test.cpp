// The seed's "Simple Parallel MPS Test", on each backend: 2 and 4 threads x 5 iterations of `mm`,
// every output checked against its single-threaded reference. Skipped loudly without the backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/results.h"
#include "torchstress/knobs.h"
#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/skip.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(ParallelMPS, parallel);
TORCHSTRESS_SECTION(ParallelCUDA, parallel);
TORCHSTRESS_SECTION(ParallelCPU, parallel);

void RunParallelSmoke(Backend backend, int threads) {
  auto mm = make_workload("mm", device_for(backend));
  RunSpec spec = run_spec_from_knobs();
  spec.threads = threads;
  spec.iterations = knobs().smoke_iterations;
  RunResult r = run_workload(*mm, spec);
  record_run(r);
  EXPECT_EQ(r.total_ops, threads * spec.iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

TEST(ParallelMPS, TwoThreads) {
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  RunParallelSmoke(Backend::kMps, 2);
}
TEST(ParallelMPS, FourThreads) {
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kMps);
  RunParallelSmoke(Backend::kMps, 4);
}

TEST(ParallelCUDA, TwoThreads) {
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  RunParallelSmoke(Backend::kCuda, 2);
}
TEST(ParallelCUDA, FourThreads) {
  TORCHSTRESS_SKIP_UNLESS_AVAILABLE(Backend::kCuda);
  RunParallelSmoke(Backend::kCuda, 4);
}

TEST(ParallelCPU, TwoThreads) { RunParallelSmoke(Backend::kCpu, 2); }
TEST(ParallelCPU, FourThreads) { RunParallelSmoke(Backend::kCpu, 4); }

}  // namespace
}  // namespace torchstress
