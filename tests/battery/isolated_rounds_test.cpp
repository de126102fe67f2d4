// The seed's "TransformerEncoderLayer (10 isolated rounds)": each round is its own process
// (threadsafe death test) running 8 threads x 20 iterations of `transformer`, every output
// checked. A crash, hang or wrong value in one round is classified, and the rest still run.
#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "torchstress/results.h"
#include "torchstress/device.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(TransformerEncoder, isolation);

// Runs in the child process only.
std::string TransformerRound(int round) {
  auto w = make_workload("transformer", device_under_test());
  RunSpec spec = run_spec_from_knobs(round);
  spec.iterations = knobs().transformer_iterations;
  RunResult r = run_workload(*w, spec);
  return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
}

TEST(TransformerEncoder, IsolatedRounds) {
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(knobs().rounds), TransformerRound));
}
TEST(TransformerEncoder, IsolatedRoundsQuick) {
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(knobs().quick_rounds), TransformerRound));
}

}  // namespace
}  // namespace torchstress
