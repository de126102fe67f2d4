// Two GPUs in one process: worker threads spread over cuda:0 and cuda:1, each checking its own
// results, and threads copying results between the cards while others compute. Skipped loudly
// with fewer than two CUDA devices.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/results.h"
#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/matchers.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/seeded.h"
#include "torchstress/skip.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(MultiGPU, parallel);

#define TORCHSTRESS_SKIP_UNLESS_TWO_GPUS()                                                                          \
  do {                                                                                                              \
    if (availability().cuda_devices < 2) {                                                                          \
      TORCHSTRESS_SKIP_BACKEND("multigpu", fmt::format("needs 2 CUDA devices, this process sees {} ({})",           \
                                                       availability().cuda_devices,                                 \
                                                       availability().cuda ? "one card" : availability().cuda_reason)); \
    }                                                                                                               \
  } while (0)

const std::vector<c10::Device> kTwoCards = {c10::Device("cuda:0"), c10::Device("cuda:1")};

// matmul on this thread's card, then a round trip through the other card (copy, add 1 there,
// copy back, subtract 1): peer copies issued from many threads at once must not corrupt data.
class CrossDeviceRoundTrip : public Workload {
 public:
  CrossDeviceRoundTrip() : Workload(c10::Device("cuda:0"), {1e-5, 1e-5}, {1e-4, 1e-4}) { spread_over(kTwoCards); }
  const char* name() const override { return "matmul128+cross-device copy"; }
  at::Tensor run_once(int thread) override {
    const auto& x = inputs(thread)[0];
    const c10::Device other = kTwoCards[static_cast<size_t>(thread + 1) % kTwoCards.size()];
    at::Tensor there = at::matmul(x, x).to(other).add_(1.0);
    return there.to(device_of(thread)).sub_(1.0);
  }

 protected:
  std::vector<at::Tensor> make_inputs(int thread) const override {
    return {seeded_randn({128, 128}, 4242 + static_cast<uint64_t>(thread))};
  }
  at::Tensor run_on_cpu(const std::vector<at::Tensor>& in) override { return at::matmul(in[0], in[0]); }
};

TEST(MultiGPU, ThreadsSpreadOverTwoCardsEachGetTheirOwnCorrectResults) {
  TORCHSTRESS_SKIP_UNLESS_TWO_GPUS();
  auto w = make_workload("matmul128", kTwoCards[0]);
  w->spread_over(kTwoCards);
  RunSpec spec = run_spec_from_knobs();
  spec.iterations = 200;
  RunResult r = run_workload(*w, spec);
  record_run(r);
  EXPECT_EQ(r.total_ops, spec.threads * spec.iterations);
  EXPECT_THAT(r.errors, HasNoErrors());
}

TEST(MultiGPU, CrossDeviceCopiesBetweenThreadsKeepEveryValue) {
  TORCHSTRESS_SKIP_UNLESS_TWO_GPUS();
  CrossDeviceRoundTrip w;
  RunSpec spec = run_spec_from_knobs();
  spec.iterations = 100;
  RunResult r = run_workload(w, spec);
  record_run(r);
  EXPECT_THAT(r.errors, HasNoErrors());
}

}  // namespace
}  // namespace torchstress
