// The battery cold: each round is a fresh process in which one of the seed's workloads makes its
// first calls with every thread released at once (no warm-up), so first-use races (lazily built
// kernels, handles, plans, allocator pools) meet the threads instead of the warm-up. The outputs
// are checked against references made in the test's own process before the rounds (single-
// threaded, cross-checked against the CPU), so a bug that stays wrong for the round's process
// cannot hide in its own reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "torchstress/clean_references.h"
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

// Round r runs workload (r - 1) mod n alone, so every workload's first calls are the process's
// first: n rounds cover the battery once.
const char* WorkloadOfRound(int round) { return kBattery[static_cast<size_t>(round - 1) % kBattery.size()]; }

// Runs in the child process only.
std::string ColdBatteryRound(int round) {
  const std::string name = WorkloadOfRound(round);
  auto w = make_workload(name, device_under_test());
  const HostReferences clean = clean_references(name);
  RunResult r = run_cold(*w, run_spec_from_knobs(round), &clean);
  return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
}

// Each battery workload's references, made in this process before the rounds spawn.
void SaveBatteryReferences() {
  for (const char* name : kBattery) {
    save_clean_references(name, [name] { return make_workload(name, device_under_test()); },
                          run_spec_from_knobs().threads);
  }
}

// `passes` times over the battery, a fresh process per workload.
long BatteryRounds(long passes) { return passes * static_cast<long>(kBattery.size()); }

TEST(ColdStart, BatteryRoundsQuick) {
  SaveBatteryReferences();
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(BatteryRounds(1)), ColdBatteryRound));
}

// The soak's cold variant: ROUNDS passes over the battery, each workload in a fresh process.
TEST(Soak, ColdBatteryRounds) {
  SaveBatteryReferences();
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(BatteryRounds(knobs().rounds)), ColdBatteryRound));
}

}  // namespace
}  // namespace torchstress
