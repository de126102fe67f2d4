// Any workload through the battery's machinery, chosen by TORCHSTRESS_WORKLOAD (default the seed's
// matmul128; op:<ns>::<op> calls a registered operator by name, e.g. one of a library loaded with
// TORCHSTRESS_OP_LIBRARY). Threaded: warm, every output checked. ColdRounds: each round a fresh
// process whose threads make their first call together, checked against references made in the
// test's own (clean) process, so first-use races (lazily built caches, handles, kernels) meet no
// warm-up and cannot hide in their own reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/clean_references.h"
#include "torchstress/device.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/pressure.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(Workload, stress);

// ColdRounds first: on the CPU its rounds are forks of this process, which must not have run the
// op yet (gtest runs a suite's tests in the order they are defined).
TEST(Workload, ColdRounds) {
  const std::string name = knobs().workload;
  const WorkloadFactory make = [name] { return make_workload(name, device_under_test()); };
  expect_rounds_pass(run_cold_pressure(name, make, [](int round) { return run_spec_from_knobs(round); }));
}

// The warm part of the budget: threaded work with a sync and a check per op, then a pipelined soak.
TEST(Workload, Threaded) {
  auto w = make_workload(knobs().workload, device_under_test());
  const WarmPressure p = run_warm_pressure(*w, run_spec_from_knobs());
  record_warm_pressure(p);
  EXPECT_GT(p.threaded.total_ops, 0);
  EXPECT_THAT(p.errors(), HasNoErrors());
}

}  // namespace
}  // namespace torchstress
