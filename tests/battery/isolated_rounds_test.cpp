// The seed's "TransformerEncoderLayer (10 isolated rounds)": each round is its own process
// (threadsafe death test) running 8 threads x 20 iterations of `transformer`, every output
// checked. A crash, hang or wrong value in one round is classified, and the rest still run.
#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "torchstress/device.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/runner.h"

namespace torchstress {
namespace {

// Runs in the child process only.
std::string TransformerRound(int /*round*/) {
  auto w = make_workload("transformer", device_under_test());
  RunSpec spec;
  spec.threads = static_cast<int>(knobs().threads);
  spec.iterations = knobs().transformer_iterations;
  RunResult r = run_workload(*w, spec);
  if (r.errors.empty()) return "";
  return r.errors.front().describe() + (r.errors.size() > 1 ? fmt::format(" (+{} more)", r.failed_ops - 1) : "");
}

void RunRounds(long rounds) {
  RoundsSummary s = run_isolated_rounds(static_cast<int>(rounds), TransformerRound);
  record_rounds(s);
  std::string failures;
  for (const auto& o : s.rounds) {
    if (o.status != RoundStatus::kPassed) failures += "\n  " + o.describe();
  }
  EXPECT_GE(s.pass_rate, knobs().round_pass_threshold)
      << s.headline() << "; threshold " << knobs().round_pass_threshold << failures;
}

TEST(TransformerEncoder, IsolatedRounds) { RunRounds(knobs().rounds); }
TEST(TransformerEncoder, IsolatedRoundsQuick) { RunRounds(knobs().quick_rounds); }

}  // namespace
}  // namespace torchstress
