// The zoo's single-threaded contract (tests/zoo/README.md). The library loads by path, as the suite loads
// it (TORCHSTRESS_OP_LIBRARY), and every op is found by its registered name. Each bug op and its _fixed
// twin return the documented formula bit for bit, for several shapes. One concurrency smoke shows that
// a seeded bug is real: contended_trylock throws under eight threads, and its twin never does.
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/cuda.h>

namespace {

const std::vector<std::string> kCpuOps = {"lazy_table",    "static_scratch", "plan_cache", "cached_view",
                                          "pooled_buffer", "lock_order",     "rare_race",  "contended_trylock"};
const std::vector<std::string> kCudaOps = {"cuda_missing_record_stream", "cuda_wrong_stream_no_event",
                                           "cuda_shared_workspace"};
// 64 x (64 + t) as the suite's threads use it, odd and even widths, one row, and the 65,536-element maximum.
const std::vector<std::vector<int64_t>> kShapes = {{64, 64}, {64, 65}, {64, 71}, {3, 130}, {1, 1}, {256, 256}};

// Loads the library once per process. Returns "" on success, dlerror()'s text otherwise.
const std::string& load_zoo() {
  static const std::string error = [] {
    return dlopen(TORCHSTRESS_ZOO_LIBRARY, RTLD_NOW | RTLD_LOCAL) != nullptr ? std::string() : std::string(dlerror());
  }();
  return error;
}

bool op_exists(const std::string& name) {
  return c10::Dispatcher::singleton().findSchema({"torchstress_zoo::" + name, ""}).has_value();
}

// Calls an op by its registered name, the way a generic workload does.
at::Tensor call_op(const std::string& name, const at::Tensor& x) {
  const std::string qualified = "torchstress_zoo::" + name;
  return c10::Dispatcher::singleton()
      .findSchemaOrThrow(qualified.c_str(), "")
      .typed<at::Tensor(const at::Tensor&)>()
      .call(x);
}

// Varied, deterministic inputs with fractional parts and both signs.
at::Tensor input_of(const std::vector<int64_t>& shape, const at::Device& device) {
  const int64_t numel = shape[0] * shape[1];
  return (at::sin(at::arange(numel, at::kFloat)) * 37.5).reshape(shape).to(device);
}

// The documented formula in ATen: x * w + 1, w = 1 + ((i + j) % 64) / 64.
at::Tensor formula(const at::Tensor& x) {
  const at::Tensor i = at::arange(x.size(0), at::kLong).unsqueeze(1);
  const at::Tensor j = at::arange(x.size(1), at::kLong).unsqueeze(0);
  const at::Tensor w = 1 + at::remainder(i + j, 64).to(at::kFloat) / 64;
  return x * w.to(x.device()) + 1;
}

// Host copy of a result, after a device-wide sync. cuda_wrong_stream_no_event's bug is hidden by
// that sync, and it only shows to callers that sync their own stream alone.
at::Tensor settled(const at::Tensor& y) {
  if (y.is_cuda()) torch::cuda::synchronize();
  return y.cpu();
}

// Each result is checked before the next call: cached_view and pooled_buffer results alias state that
// the next call may reuse.
void expect_twins_compute_formula(const std::string& op, const at::Device& device) {
  for (const auto& shape : kShapes) {
    SCOPED_TRACE(op + " on [" + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + "]");
    const at::Tensor x = input_of(shape, device);
    const at::Tensor expected = formula(x).cpu();
    const at::Tensor buggy = settled(call_op(op, x));
    EXPECT_TRUE(at::equal(buggy, expected)) << "max abs diff " << (buggy - expected).abs().max().item<float>();
    const at::Tensor fixed = settled(call_op(op + "_fixed", x));
    EXPECT_TRUE(at::equal(fixed, expected)) << "max abs diff " << (fixed - expected).abs().max().item<float>();
  }
}

class ZooCpu : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(load_zoo(), "") << "dlopen(" << TORCHSTRESS_ZOO_LIBRARY << ") failed"; }
};

class ZooCuda : public ZooCpu {
 protected:
  void SetUp() override {
    ZooCpu::SetUp();
    if (!op_exists(kCudaOps[0])) GTEST_SKIP() << "this build of the zoo has no CUDA ops (a LibTorch without CUDA)";
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
};

// Hammers `op` from eight threads with different widths until one call throws or `deadline` passes.
// Returns the first exception's text, or "" if none threw. Results of calls that did not throw are
// checked too: each wrong one counts in `wrong`.
std::string hammer(const std::string& op, std::chrono::milliseconds deadline, int max_calls, std::atomic<int>& wrong) {
  std::atomic<bool> thrown{false};
  std::string first_error;
  std::mutex error_mutex;
  const auto stop_at = std::chrono::steady_clock::now() + deadline;
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&, t] {
      const at::Tensor x = input_of({64, 64 + t}, at::kCPU);
      const at::Tensor expected = formula(x);
      for (int call = 0; call < max_calls && !thrown && std::chrono::steady_clock::now() < stop_at; ++call) {
        try {
          if (!at::equal(call_op(op, x), expected)) ++wrong;
        } catch (const std::exception& e) {
          const std::lock_guard<std::mutex> lock(error_mutex);
          if (!thrown.exchange(true)) first_error = e.what();
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return first_error;
}

}  // namespace

TEST_F(ZooCpu, LoadingByPathRegistersEveryOpAndItsTwin) {
  for (const auto& op : kCpuOps) {
    EXPECT_TRUE(op_exists(op)) << op;
    EXPECT_TRUE(op_exists(op + "_fixed")) << op << "_fixed";
  }
}

TEST_F(ZooCpu, LazyTableAndTwinComputeTheFormula) { expect_twins_compute_formula("lazy_table", at::kCPU); }
TEST_F(ZooCpu, StaticScratchAndTwinComputeTheFormula) { expect_twins_compute_formula("static_scratch", at::kCPU); }
TEST_F(ZooCpu, PlanCacheAndTwinComputeTheFormula) { expect_twins_compute_formula("plan_cache", at::kCPU); }
TEST_F(ZooCpu, CachedViewAndTwinComputeTheFormula) { expect_twins_compute_formula("cached_view", at::kCPU); }
TEST_F(ZooCpu, PooledBufferAndTwinComputeTheFormula) { expect_twins_compute_formula("pooled_buffer", at::kCPU); }
TEST_F(ZooCpu, LockOrderAndTwinComputeTheFormula) { expect_twins_compute_formula("lock_order", at::kCPU); }
TEST_F(ZooCpu, RareRaceAndTwinComputeTheFormula) { expect_twins_compute_formula("rare_race", at::kCPU); }
TEST_F(ZooCpu, ContendedTrylockAndTwinComputeTheFormula) {
  expect_twins_compute_formula("contended_trylock", at::kCPU);
}

TEST_F(ZooCpu, InputsOutsideTheContractAreRefusedByBugAndTwinAlike) {
  for (const std::string op : {"lazy_table", "lazy_table_fixed"}) {
    EXPECT_THROW(call_op(op, at::ones({4, 4}, at::kDouble)), c10::Error) << op;
    EXPECT_THROW(call_op(op, at::ones({4}, at::kFloat)), c10::Error) << op;
    EXPECT_THROW(call_op(op, at::ones({257, 256}, at::kFloat)), c10::Error) << op;
  }
}

// The seeded bug is real: under contention the buggy op throws, typically within milliseconds. The 5 s
// is only a bound on a loaded box. The twin, given the same hammering, never throws and is always right.
TEST_F(ZooCpu, ContendedTrylockThrowsResourceBusyUnderEightThreadsAndItsTwinNever) {
  std::atomic<int> wrong_buggy{0};
  const std::string error = hammer("contended_trylock", std::chrono::seconds(5), 1 << 30, wrong_buggy);
  EXPECT_EQ(error, "torchstress_zoo::contended_trylock: resource busy");
  std::atomic<int> wrong_fixed{0};
  EXPECT_EQ(hammer("contended_trylock_fixed", std::chrono::seconds(60), 300, wrong_fixed), "");
  EXPECT_EQ(wrong_buggy.load() + wrong_fixed.load(), 0);
}

TEST_F(ZooCuda, LoadingByPathRegistersEveryCudaOpAndItsTwin) {
  for (const auto& op : kCudaOps) EXPECT_TRUE(op_exists(op + "_fixed")) << op << "_fixed";
}
TEST_F(ZooCuda, MissingRecordStreamAndTwinComputeTheFormula) {
  expect_twins_compute_formula("cuda_missing_record_stream", at::kCUDA);
}
TEST_F(ZooCuda, WrongStreamNoEventAndTwinComputeTheFormula) {
  expect_twins_compute_formula("cuda_wrong_stream_no_event", at::kCUDA);
}
TEST_F(ZooCuda, SharedWorkspaceAndTwinComputeTheFormula) {
  expect_twins_compute_formula("cuda_shared_workspace", at::kCUDA);
}
