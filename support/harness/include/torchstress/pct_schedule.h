// PCT-style schedule exploration for real threads (PctSpec in run_spec.h): random thread priorities
// drawn from a seed, depth - 1 priority change points per epoch, and per-thread gating at op
// boundaries and at the start gate, so only the highest-priority threads run at a time and which
// ones overlap changes at the change points. Uniform noise (schedule_noise.h) shifts ops by a few
// microseconds; this decides which threads meet at all, the shape of an interleaving that a
// depth-d bug needs (Burckhardt et al., "A Randomized Scheduler with Probabilistic Guarantees of
// Finding Bugs", ASPLOS 2010). Every draw comes from the seed, so the run's priority schedule is
// replayed with the same seed (the OS scheduler still adds its own).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <vector>

#include "torchstress/run_spec.h"

namespace torchstress {

class PctSchedule {
 public:
  PctSchedule(const PctSpec& spec, int threads);
  // Called by worker `thread` before each op (its first included): waits while it is not among the
  // `running` highest-priority threads, at most max_wait; advances epochs and change points.
  void at_op_boundary(int thread);
  // A worker that ends its loop leaves the priority order, so it holds nobody back.
  void leave(int thread);
  bool on() const { return spec_.on(); }
  long change_points_taken() const { return changes_.load(std::memory_order_relaxed); }
  long epochs() const { return epochs_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  void advance(Clock::time_point now);  // under mutex_
  bool may_run(int thread) const;
  PctSpec spec_;
  int threads_;
  std::mt19937_64 rng_;  // under mutex_
  std::mutex mutex_;
  std::vector<std::atomic<int>> rank_;  // [thread] -> 0 (highest) .. threads-1
  std::vector<std::atomic<bool>> left_;
  std::vector<Clock::time_point> change_at_;  // this epoch's change points, in order (under mutex_)
  size_t next_change_ = 0;
  Clock::time_point epoch_end_;
  std::atomic<int64_t> next_event_ns_{0};  // earliest change point or epoch end, for a lock-free check
  Clock::time_point start_;
  std::atomic<long> changes_{0};
  std::atomic<long> epochs_{0};
};

}  // namespace torchstress
