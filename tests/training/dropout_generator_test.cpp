// Dropout with a generator per thread: each thread clones the device's default generator, seeds
// its clone and draws its dropout masks from it while the other threads draw theirs. A thread's
// masks and outputs must replay bitwise from its seed alone, and keep about 1 - p of the values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "torchstress/device.h"
#include "torchstress/matchers.h"
#include "training_helpers.h"

namespace torchstress::training {
namespace {

constexpr double kDropP = 0.3;
constexpr int64_t kRows = 64, kCols = 128;
constexpr int kPasses = 100;
constexpr double kSigmas = 5.0;  // a kept fraction further than this from 1 - p is no chance

uint64_t DropoutSeed(int thread) { return kBaseSeed + 700000 + static_cast<uint64_t>(thread); }

// A generator of this thread's own (fork_generator), reseeded.
at::Generator SeededGenerator(const c10::Device& d, uint64_t seed) {
  at::Generator mine = fork_generator(d);
  mine.set_current_seed(seed);
  return mine;
}

// kPasses dropouts (probability p) of `thread`'s inputs, masks drawn from a generator seeded with `seed`.
Trace SeededDropoutPasses(const c10::Device& d, uint64_t seed, int thread, double p = kDropP) {
  at::Generator gen = SeededGenerator(d, seed);
  Trace trace;
  for (int pass = 0; pass < kPasses; ++pass) {
    const at::Tensor x = seeded_randn({kRows, kCols}, input_seed(thread, pass)).to(d);
    const at::Tensor mask = at::bernoulli(at::full_like(x, 1.0 - p), gen);
    Append(trace, "pass " + std::to_string(pass) + " mask", mask);
    Append(trace, "pass " + std::to_string(pass) + " output", x * mask / (1.0 - p));
  }
  return trace;
}

// "" when the masks of `traces` keep a fraction of values within kSigmas binomial sigmas of 1 - p.
std::string KeptFractionProblem(const std::vector<Trace>& traces, double p) {
  double kept = 0.0, n = 0.0;
  for (const Trace& trace : traces) {
    for (const auto& [what, value] : trace) {
      if (what.size() < 5 || what.compare(what.size() - 5, 5, " mask") != 0) continue;
      kept += value.sum().item<double>();
      n += static_cast<double>(value.numel());
    }
  }
  const double sigma = std::sqrt(n * p * (1.0 - p));
  if (n > 0 && std::abs(kept - (1.0 - p) * n) <= kSigmas * sigma) return "";
  return fmt::format("kept {} of {} values ({:.4f}), expected {:.4f} +- {} sigma ({:.1f} values)", kept, n,
                     n > 0 ? kept / n : 0.0, 1.0 - p, kSigmas, sigma);
}

std::string SeedsLine(int threads) {
  std::string line;
  for (int t = 0; t < threads; ++t) line += fmt::format("{}thread {} -> {}", t ? ", " : "", t, DropoutSeed(t));
  return line;
}

TEST_F(Training, SeededDropoutPerThreadGeneratorsReplay) {
  // Pins per-thread generator use (torch.Generator per worker, as DataLoader workers and
  // test_autograd.py's threaded dropout do): THREADS threads clone and seed their own generator and
  // draw 100 dropout masks each at once. A generator shared or state torn between threads would
  // change a mask. Checks every mask and output bitwise against the seed's replay alone, and the
  // kept fraction per thread and overall within 5 sigma of 1 - p.
  const c10::Device d = device_under_test();
  const RunSpec spec = TrainingSpec();
  const std::string seeds = SeedsLine(spec.threads);
  std::cout << "[ training ] dropout seeds (replay: SeededDropoutPasses(device, seed, thread)): " << seeds << "\n";
  ::testing::Test::RecordProperty("dropout_seeds", seeds);
  std::vector<Trace> traces;
  RunResult r = ConcurrentTracesMatchAlone(spec, "seeded dropout", d,
                                           [&](int t) { return SeededDropoutPasses(d, DropoutSeed(t), t); }, &traces);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
  for (int t = 0; t < spec.threads; ++t) {
    EXPECT_EQ(KeptFractionProblem({traces[static_cast<size_t>(t)]}, kDropP), "") << "thread " << t;
  }
  EXPECT_EQ(KeptFractionProblem(traces, kDropP), "") << "all threads";
}

TEST_F(TrainingChecks, DropoutReplayWithAnotherSeedOrRateIsReported) {
  // The replay check must see a mask from another seed; the kept-fraction check, masks of another p.
  const c10::Device d = device_under_test();
  const Trace seeded = SeededDropoutPasses(d, DropoutSeed(0), 0);
  EXPECT_THAT(CompareTraces(0, "replay", seeded, SeededDropoutPasses(d, DropoutSeed(0), 0)), HasNoErrors());
  EXPECT_THAT(CompareTraces(0, "replay", seeded, SeededDropoutPasses(d, DropoutSeed(0) + 1, 0)),
              HasErrorOf(ErrorKind::kWrongValue, "pass 0 mask"));
  EXPECT_EQ(KeptFractionProblem({seeded}, kDropP), "");
  EXPECT_THAT(KeptFractionProblem({SeededDropoutPasses(d, DropoutSeed(0), 0, 0.4)}, kDropP),
              ::testing::HasSubstr("expected 0.7000"));
}

}  // namespace
}  // namespace torchstress::training
