// The seed's "Simple Parallel MPS Test", on each backend: 2 and 4 threads x 5 iterations of `mm`,
// every output checked against its single-threaded reference. Skipped loudly without the backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/runner.h"
#include "torchstress/skip.h"

namespace torchstress {
namespace {

// A CUDA run uses the device under test when it is a CUDA card (CTest may have allocated one).
c10::Device device_for(Backend b) {
  switch (b) {
    case Backend::kMps:
      return c10::Device(c10::kMPS);
    case Backend::kCuda:
      return device_under_test().is_cuda() ? device_under_test() : c10::Device("cuda:0");
    case Backend::kCpu:
      break;
  }
  return c10::Device(c10::kCPU);
}

void RunParallelSmoke(Backend backend, int threads) {
  auto mm = make_workload("mm", device_for(backend));
  RunSpec spec;
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
