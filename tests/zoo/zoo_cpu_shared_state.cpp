// CPU zoo ops whose bug is shared state: a lazily built table, a static scratch buffer, an unguarded plan
// cache, a cached output buffer, and a buffer pool that takes buffers back too early. Each template's
// kFixed=true instantiation is the twin: the same code path with correct synchronisation or ownership.
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/library.h>

#include "zoo_common.h"

namespace torchstress_zoo {
namespace {

// ---- lazy_table -------------------------------------------------------------------------------------
// Mimics first-use races in lazily built shared state. Examples: CUDA's lazy init (#16559, fixed by PR
// #25788), the unguarded pipeline caches of MetalShaderLibrary (PR #167541), and the unlocked
// MPSStreamImpl::getInstance singleton. The bug publishes "built" before the table is filled, so
// threads that make their first call at the same moment read a half-empty table. Unfilled entries are
// 0, so those outputs read 1.
constexpr int64_t kTableEntries = kPeriod * kPeriod;  // table[r * 64 + c] = w[(r + c) % 64]

// Each entry goes through exp(log(.)) kRefinements times and is rounded back to the 1/64 grid. That
// is exact, and the whole fill takes a few milliseconds, as building a real kernel, shader or plan
// cache entry does: long enough that other threads get the CPU while it runs, even on two cores.
constexpr int kRefinements = 24;

void fill_table(float* table) {
  for (int64_t n = 0; n < kTableEntries; ++n) {
    double v = static_cast<double>(weight(n / kPeriod + n % kPeriod));
    for (int r = 0; r < kRefinements; ++r) v = std::exp(std::log(v));
    table[n] = static_cast<float>(std::nearbyint(v * kPeriod) / kPeriod);
  }
}

struct LazyTable {
  std::atomic<bool> built{false};
  float entries[kTableEntries] = {};
};
LazyTable g_lazy_table;  // constant-initialised: it has no init guard of its own

const float* lazy_table_racy() {
  if (!g_lazy_table.built.load(std::memory_order_acquire)) {
    g_lazy_table.built.store(true, std::memory_order_release);  // BUG: published before it is filled
    fill_table(g_lazy_table.entries);
  }
  return g_lazy_table.entries;
}

const float* lazy_table_once() {
  // The fix: a function-local static. C++11 makes later callers wait until the initialiser returns.
  static const std::vector<float> table = [] {
    std::vector<float> t(kTableEntries);
    fill_table(t.data());
    return t;
  }();
  return table.data();
}

template <bool kFixed>
at::Tensor lazy_table(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "lazy_table", c10::kCPU);
  const float* table = kFixed ? lazy_table_once() : lazy_table_racy();
  at::Tensor y = at::empty_like(x);
  compute_formula_with(x.data_ptr<float>(), y.data_ptr<float>(), x.size(0), x.size(1),
                       [table](int64_t i, int64_t j) { return table[(i % kPeriod) * kPeriod + j % kPeriod]; });
  return y;
}

// ---- static_scratch ---------------------------------------------------------------------------------
// Mimics one process-wide workspace where each thread needs its own: the cuBLAS handle whose state
// every thread re-set (#6962, fixed by the per-thread handle pool of PR #29233), and the workspaces that
// #180283 made thread-local. Results are computed into the scratch buffer and then copied out. Another
// thread writing the buffer between those two steps hands this caller its values.
float g_scratch[kMaxElements];

float* thread_scratch() {
  thread_local std::vector<float> scratch(kMaxElements);
  return scratch.data();
}

template <bool kFixed>
at::Tensor static_scratch(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "static_scratch", c10::kCPU);
  float* scratch = kFixed ? thread_scratch() : g_scratch;  // BUG when shared: one buffer for every thread
  compute_formula(x.data_ptr<float>(), scratch, x.size(0), x.size(1));
  at::Tensor y = at::empty_like(x);
  std::memcpy(y.data_ptr<float>(), scratch, static_cast<size_t>(x.numel()) * sizeof(float));
  return y;
}

// ---- plan_cache -------------------------------------------------------------------------------------
// Mimics a bounded plan cache that is shared and unguarded: cuFFT's plan cache, which PyTorch guards
// with a mutex; the static cuBLAS workspace maps of PR #167248 (crashes; relanded as #167722/#167928);
// the MetalShaderLibrary maps of PR #167541. With more shapes in use than the cache holds (4), every
// call inserts and evicts. Unguarded, that corrupts the map, frees plans that are still in use, or crashes.
constexpr size_t kPlanCapacity = 4;

// The plan of a shape: plan[m] = w[m % 64] for m < 64 + cols, so that element (i, j) reads plan[i % 64 + j].
using Plan = std::vector<float>;

struct ShapeHash {
  size_t operator()(const std::pair<int64_t, int64_t>& shape) const {
    return std::hash<int64_t>()(shape.first * 1000003 + shape.second);
  }
};

class PlanCache {
 public:
  std::shared_ptr<const Plan> get(int64_t rows, int64_t cols) {
    const auto key = std::make_pair(rows, cols);
    const auto hit = plans_.find(key);
    if (hit != plans_.end()) return hit->second;
    if (plans_.size() >= kPlanCapacity) plans_.erase(plans_.begin());  // full: evict one, as cuFFT's cache does
    auto plan = std::make_shared<Plan>(static_cast<size_t>(kPeriod + cols));
    for (size_t m = 0; m < plan->size(); ++m) (*plan)[m] = weight(static_cast<int64_t>(m));
    plans_.emplace(key, plan);
    return plan;
  }

 private:
  std::unordered_map<std::pair<int64_t, int64_t>, std::shared_ptr<const Plan>, ShapeHash> plans_;
};

PlanCache g_racy_plans;  // BUG: shared by every thread, and no lock
PlanCache g_guarded_plans;
std::mutex g_plans_mutex;

template <bool kFixed>
at::Tensor plan_cache(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "plan_cache", c10::kCPU);
  std::shared_ptr<const Plan> plan;
  if (kFixed) {
    const std::lock_guard<std::mutex> lock(g_plans_mutex);
    plan = g_guarded_plans.get(x.size(0), x.size(1));
  } else {
    plan = g_racy_plans.get(x.size(0), x.size(1));
  }
  // The shared_ptr keeps the plan alive if another caller evicts it while this one still reads it.
  const float* coefficients = plan->data();
  at::Tensor y = at::empty_like(x);
  compute_formula_with(x.data_ptr<float>(), y.data_ptr<float>(), x.size(0), x.size(1),
                       [coefficients](int64_t i, int64_t j) { return coefficients[i % kPeriod + j]; });
  return y;
}

// ---- cached_view ------------------------------------------------------------------------------------
// Mimics an op that hands out its own cached storage instead of a fresh tensor, so the caller's
// result aliases state that the next call overwrites. dML's MPS fixes 040-043 are one example: a
// `MaybeOwned` that only borrowed its tensor. Even one thread sees it if it keeps two results at once.
const at::Tensor& cached_output_buffer() {
  static const at::Tensor buffer = at::empty({kMaxElements}, at::kFloat);  // created once (thread-safe)
  return buffer;
}

template <bool kFixed>
at::Tensor cached_view(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "cached_view", c10::kCPU);
  // BUG when cached: every call writes the same buffer and returns a view of it.
  const at::Tensor storage = kFixed ? at::empty({x.numel()}, at::kFloat) : cached_output_buffer();
  compute_formula(x.data_ptr<float>(), storage.data_ptr<float>(), x.size(0), x.size(1));
  return storage.narrow(0, 0, x.numel()).view({x.size(0), x.size(1)});
}

// ---- pooled_buffer ----------------------------------------------------------------------------------
// Mimics a lifetime bug in a buffer pool: a buffer goes back to the pool when the op returns, not when
// its last reader is done. Compare the caching allocator's per-stream reuse, which needs
// record_stream (#23729), and the use-after-frees of dML's synchronize fix (patch 044). The pool is
// thread-safe; only the release is early. It frees buffers beyond a small bound, so a late reader
// touches freed heap memory. ASan reports it when the read happens in instrumented code, or in a
// memcpy or memcmp call. Without ASan it shows as wrong values. As with cached_view, one thread sees
// it too if it keeps a result across its next call.
class BufferPool {
 public:
  struct Buffer {
    float* data;
    int64_t capacity;
  };

  Buffer acquire(int64_t elements) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->capacity >= elements) {
          const Buffer buffer = *it;
          free_.erase(it);
          return buffer;
        }
      }
    }
    return Buffer{new float[static_cast<size_t>(elements)], elements};
  }

  // Keeps the kKeep most recently released buffers and frees the oldest beyond them. So a single
  // caller's latest buffer survives until its next calls, and only other threads' releases free it early.
  void release(Buffer buffer) {
    const std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(buffer);
    if (free_.size() > kKeep) {
      delete[] free_.front().data;  // beyond the bound: a real free
      free_.erase(free_.begin());
    }
  }

 private:
  static constexpr size_t kKeep = 2;
  std::mutex mutex_;
  std::vector<Buffer> free_;
};

// Never destroyed: a tensor's deleter may run after static destruction has begun.
BufferPool& buffer_pool() {
  static BufferPool* pool = new BufferPool;
  return *pool;
}

template <bool kFixed>
at::Tensor pooled_buffer(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "pooled_buffer", c10::kCPU);
  const BufferPool::Buffer buffer = buffer_pool().acquire(x.numel());
  compute_formula(x.data_ptr<float>(), buffer.data, x.size(0), x.size(1));
  const std::vector<int64_t> shape{x.size(0), x.size(1)};
  if (kFixed) {
    // The fix: the tensor owns the buffer, and the buffer goes back to the pool when its last reader is gone.
    const std::function<void(void*)> give_back = [buffer](void*) { buffer_pool().release(buffer); };
    return at::from_blob(buffer.data, shape, give_back, at::kFloat);
  }
  at::Tensor y = at::from_blob(buffer.data, shape, at::kFloat);
  buffer_pool().release(buffer);  // BUG: released at op exit, while the caller has yet to read y
  return y;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchstress_zoo, CPU, m) {
  m.impl("lazy_table", &lazy_table<false>);
  m.impl("lazy_table_fixed", &lazy_table<true>);
  m.impl("static_scratch", &static_scratch<false>);
  m.impl("static_scratch_fixed", &static_scratch<true>);
  m.impl("plan_cache", &plan_cache<false>);
  m.impl("plan_cache_fixed", &plan_cache<true>);
  m.impl("cached_view", &cached_view<false>);
  m.impl("cached_view_fixed", &cached_view<true>);
  m.impl("pooled_buffer", &pooled_buffer<false>);
  m.impl("pooled_buffer_fixed", &pooled_buffer<true>);
}

}  // namespace torchstress_zoo
