// The seed's "LayerNorm/Transformer Stress Test" on the device under test: one shared module,
// 8 threads, every output checked; records successes X/Y and ops/s.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/results.h"
#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(Stress, stress);

void RunStress(const char* workload, long iterations) {
  auto w = make_workload(workload, device_under_test());
  RunSpec spec = run_spec_from_knobs();
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
