// A fork's own threaded test written with torchstress's harness: the runner for a workload, and the
// start gate plus error sink for a scenario of its own. Workers record; the main thread asserts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/error_sink.h"
#include "torchstress/matchers.h"
#include "torchstress/runner.h"
#include "torchstress/start_gate.h"

namespace {

using namespace torchstress;

TEST(Consumer, FourThreadsOfMatmulOnTheDeviceUnderTestMatchTheirReferences) {
  auto mm = make_workload("mm", device_under_test());
  RunSpec spec;
  spec.threads = 4;
  spec.iterations = 5;
  RunResult r = run_workload(*mm, spec);
  EXPECT_EQ(r.total_ops, 20);
  EXPECT_THAT(r.errors, HasNoErrors());
}

TEST(Consumer, GatedWorkersSummingTheirOwnTensorsEachGetTheirOwnTotal) {
  constexpr int kThreads = 4;
  constexpr int kIterations = 10;
  const c10::Device device = device_under_test();
  StartGate gate(kThreads, std::chrono::seconds(30));
  ErrorSink sink;
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      if (!gate.arrive_and_wait(t)) return;
      for (int i = 0; i < kIterations; ++i) {
        try {
          const double got = at::full({64, 64}, t + 1, at::TensorOptions().device(device)).sum().item<double>();
          if (got != 4096.0 * (t + 1)) {
            sink.add(ErrorRecord::at(ErrorKind::kWrongValue, t, i, "full+sum", device_label(device),
                                     "sum " + std::to_string(got) + ", expected " + std::to_string(4096 * (t + 1))));
          }
        } catch (const std::exception& ex) {
          sink.add(ErrorRecord::at(ErrorKind::kException, t, i, "full+sum", device_label(device), ex.what()));
        }
      }
    });
  }
  std::string missing;
  const bool opened = gate.open_when_all_arrived(&missing);  // breaks the gate on expiry
  for (auto& w : workers) w.join();
  ASSERT_TRUE(opened) << "workers that never reached the gate: " << missing;
  EXPECT_THAT(sink.errors(), HasNoErrors());
}

}  // namespace
