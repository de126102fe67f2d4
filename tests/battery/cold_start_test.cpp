// The battery cold: each round is a fresh process in which the seed's workloads make their first
// calls with every thread released at once (no warm-up), references computed afterwards
// (single-threaded, cross-checked against the CPU), so first-use races (lazily built kernels,
// handles, plans, allocator pools) meet the threads instead of the warm-up. Round r starts with
// workload r mod n, so each workload gets the coldest process in some round.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "torchstress/device.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(ColdStart, isolation);

constexpr std::array<const char*, 5> kBattery{"mm", "matmul128", "layernorm", "transformer", "mlp"};

// Runs in the child process only.
std::string ColdBatteryRound(int round) {
  std::vector<ErrorRecord> errors;
  size_t failed = 0;
  for (size_t k = 0; k < kBattery.size(); ++k) {
    const std::string name = kBattery[(static_cast<size_t>(round) + k) % kBattery.size()];
    auto w = make_workload(name, device_under_test());
    RunResult r = run_cold(*w, run_spec_from_knobs(round));
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
    failed += static_cast<size_t>(r.failed_ops);
  }
  return round_reason(errors, failed);
}

TEST(ColdStart, BatteryRoundsQuick) {
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(knobs().quick_rounds), ColdBatteryRound));
}

// The soak's cold variant: ROUNDS fresh processes, each the whole battery cold.
TEST(Soak, ColdBatteryRounds) {
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(knobs().rounds), ColdBatteryRound));
}

}  // namespace
}  // namespace torchstress
