// Any workload through the battery's machinery, chosen by TORCHSTRESS_WORKLOAD (default the seed's
// matmul128; op:<ns>::<op> calls a registered operator by name, e.g. one of a library loaded with
// TORCHSTRESS_OP_LIBRARY). Threaded: warm, every output checked. ColdRounds: each round a fresh
// process whose threads make their first call together, references computed afterwards, so
// first-use races (lazily built caches, handles, kernels) meet no warm-up.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/device.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(Workload, stress);

TEST(Workload, Threaded) {
  auto w = make_workload(knobs().workload, device_under_test());
  RunSpec spec = run_spec_from_knobs();
  spec.iterations = knobs().workload_iterations;
  RunResult r = run_workload(*w, spec);
  record_run(r);
  EXPECT_EQ(r.total_ops, spec.threads * spec.iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

// Runs in the child process only: one cold call per thread.
std::string ColdRound(int round) {
  auto w = make_workload(knobs().workload, device_under_test());
  RunResult r = run_cold(*w, run_spec_from_knobs(round));
  return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
}

TEST(Workload, ColdRounds) {
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(knobs().quick_rounds), ColdRound));
}

}  // namespace
}  // namespace torchstress
