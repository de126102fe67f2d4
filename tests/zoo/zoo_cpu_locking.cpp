// CPU zoo ops whose bug is in their locking: two locks taken in opposite orders, a slot claim that tests
// and then sets without an atomic step, and a try_lock that fails under contention. Each template's
// kFixed=true instantiation is the twin: the same code path with correct synchronisation.
#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <ATen/ATen.h>
#include <torch/library.h>

#include "zoo_common.h"

namespace torchstress_zoo {
namespace {

// ---- lock_order -------------------------------------------------------------------------------------
// Mimics lock-order deadlocks, such as the GIL against the DeviceCachingAllocator lock when memory
// profiling is on (#97833). Inputs with an even column count take A then B; odd ones take B then A. Real
// work is done while the first lock is held. So an even caller and an odd caller, running at the
// same time, wait on each other for ever, and the suite's watchdog reports a hang.
std::mutex g_input_lock;         // "A": would guard the op's input-side state
std::mutex g_stats_lock;         // "B": would guard its statistics
int64_t g_lock_order_calls = 0;  // guarded by both

template <bool kFixed>
at::Tensor lock_order(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "lock_order", c10::kCPU);
  const bool reversed = !kFixed && x.size(1) % 2 == 1;  // BUG: the order depends on the shape
  std::mutex& first = reversed ? g_stats_lock : g_input_lock;
  std::mutex& second = reversed ? g_input_lock : g_stats_lock;
  const std::lock_guard<std::mutex> hold_first(first);
  at::Tensor y = formula_output(x);  // the work that keeps the first lock held: the deadlock window
  const std::lock_guard<std::mutex> hold_second(second);
  ++g_lock_order_calls;
  return y;
}

// ---- rare_race --------------------------------------------------------------------------------------
// Mimics races whose window is a few instructions wide and which show once in many thousands of
// calls: the unguarded alloc_trace vector of the caching allocator (PR #130180, a rare SIGSEGV), and
// the data race on the default CPU generator that TSan reported (#34052). A caller claims a scratch slot
// with "if not busy, then set busy" as two separate atomic steps. Two callers that probe the same free slot
// in the same few nanoseconds both take it, and one returns the other's values. Callers start from a
// rotating slot, so such a meeting is rare. How often it is caught grows with run time and core count.
constexpr unsigned kSlots = 32;

struct alignas(64) Slot {
  std::atomic<bool> busy{false};
  float scratch[kMaxElements] = {};
};
Slot g_slots[kSlots];
std::atomic<unsigned> g_next_slot{0};

// With at most kSlots - 1 other callers holding a slot, the probe finds a free one within kSlots steps.
// With more callers it spins until a holder releases.
Slot& claim_slot(bool fixed) {
  for (unsigned k = g_next_slot.fetch_add(1, std::memory_order_relaxed);; ++k) {
    Slot& slot = g_slots[k % kSlots];
    if (fixed) {
      if (!slot.busy.exchange(true, std::memory_order_acquire)) return slot;
    } else if (!slot.busy.load(std::memory_order_acquire)) {
      slot.busy.store(true, std::memory_order_relaxed);  // BUG: another caller can pass the test before this store
      return slot;
    }
  }
}

template <bool kFixed>
at::Tensor rare_race(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "rare_race", c10::kCPU);
  Slot& slot = claim_slot(kFixed);
  compute_formula(x.data_ptr<float>(), slot.scratch, x.size(0), x.size(1));
  at::Tensor y = at::empty_like(x);
  std::memcpy(y.data_ptr<float>(), slot.scratch, static_cast<size_t>(x.numel()) * sizeof(float));
  slot.busy.store(false, std::memory_order_release);
  return y;
}

// ---- contended_trylock ------------------------------------------------------------------------------
// Mimics APIs that report a busy resource as an error instead of waiting for it. For example,
// set_num_interop_threads succeeds once and throws for any later caller (upstream thread_init_test).
// Here a busy resource is a held mutex. A single thread never sees the error, and every thread that
// arrives while another holds it does.
std::mutex g_resource_lock;

template <bool kFixed>
at::Tensor contended_trylock(const at::Tensor& input) {
  const at::Tensor x = checked_input(input, "contended_trylock", c10::kCPU);
  std::unique_lock<std::mutex> lock(g_resource_lock, std::defer_lock);
  if (kFixed) {
    lock.lock();
  } else if (!lock.try_lock()) {
    throw std::runtime_error("torchstress_zoo::contended_trylock: resource busy");  // BUG: should wait
  }
  return formula_output(x);  // the work done while the resource is held
}

}  // namespace

TORCH_LIBRARY_IMPL(torchstress_zoo, CPU, m) {
  m.impl("lock_order", &lock_order<false>);
  m.impl("lock_order_fixed", &lock_order<true>);
  m.impl("rare_race", &rare_race<false>);
  m.impl("rare_race_fixed", &rare_race<true>);
  m.impl("contended_trylock", &contended_trylock<false>);
  m.impl("contended_trylock_fixed", &contended_trylock<true>);
}

}  // namespace torchstress_zoo
