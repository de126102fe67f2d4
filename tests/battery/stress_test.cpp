// The seed's "LayerNorm/Transformer Stress Test" on the device under test: one shared module,
// 8 threads, every output checked; records successes X/Y and ops/s.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

void RunStress(const char* workload, long iterations) {
  auto w = make_workload(workload, device_under_test());
  RunSpec spec;
  spec.threads = static_cast<int>(knobs().threads);
  spec.iterations = iterations;
  RunResult r = run_workload(*w, spec);
  record_run(r);
  EXPECT_EQ(r.total_ops, spec.threads * iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

TEST(Stress, LayerNorm) { RunStress("layernorm", knobs().layernorm_iterations); }
TEST(Stress, Transformer) { RunStress("transformer", knobs().transformer_iterations); }

}  // namespace
}  // namespace torchstress
