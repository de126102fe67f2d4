#include "torchstress/pct_schedule.h"

#include <algorithm>
#include <numeric>
#include <thread>

namespace torchstress {

const char* to_string(SchedulePolicy p) {
  switch (p) {
    case SchedulePolicy::kMixed: return "mixed";
    case SchedulePolicy::kNoise: return "noise";
    case SchedulePolicy::kFree: return "free";
    case SchedulePolicy::kPct: return "pct";
  }
  return "unknown";
}

PctSchedule::PctSchedule(const PctSpec& spec, int threads)
    : spec_(spec),
      threads_(std::max(1, threads)),
      rng_(spec.seed * 0xD1B54A32D192ED03ULL + 0x5C7),
      rank_(static_cast<size_t>(std::max(1, threads))),
      left_(static_cast<size_t>(std::max(1, threads))),
      start_(Clock::now()) {
  for (auto& l : left_) l.store(false);
  const std::lock_guard<std::mutex> lock(mutex_);
  epoch_end_ = start_;
  advance(start_);
}

// Starts a new epoch when the last one is over (fresh random priorities, depth - 1 change points at
// uniform times in it), or takes the change points that are due: the highest-priority thread drops
// to the lowest.
void PctSchedule::advance(Clock::time_point now) {
  const auto epoch = std::chrono::duration_cast<Clock::duration>(spec_.epoch);
  if (now >= epoch_end_) {
    std::vector<int> order(static_cast<size_t>(threads_));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng_);
    for (int r = 0; r < threads_; ++r) rank_[static_cast<size_t>(order[static_cast<size_t>(r)])].store(r);
    const auto begin = now;
    epoch_end_ = begin + epoch;
    change_at_.clear();
    std::uniform_int_distribution<int64_t> when(0, std::max<int64_t>(1, epoch.count()));
    for (int k = 1; k < spec_.depth; ++k) change_at_.push_back(begin + Clock::duration(when(rng_)));
    std::sort(change_at_.begin(), change_at_.end());
    next_change_ = 0;
    epochs_.fetch_add(1, std::memory_order_relaxed);
  }
  while (next_change_ < change_at_.size() && change_at_[next_change_] <= now) {
    ++next_change_;
    for (auto& r : rank_) {  // the top thread goes to the bottom, everyone else moves up one
      const int v = r.load();
      r.store(v == 0 ? threads_ - 1 : v - 1);
    }
    changes_.fetch_add(1, std::memory_order_relaxed);
  }
  const auto next = next_change_ < change_at_.size() ? change_at_[next_change_] : epoch_end_;
  next_event_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(next - start_).count(),
                       std::memory_order_release);
}

// Among the threads still working, `thread` is one of the `running` highest-priority ones.
bool PctSchedule::may_run(int thread) const {
  const int mine = rank_[static_cast<size_t>(thread)].load(std::memory_order_relaxed);
  int above = 0;
  for (int t = 0; t < threads_; ++t) {
    if (t == thread || left_[static_cast<size_t>(t)].load(std::memory_order_relaxed)) continue;
    if (rank_[static_cast<size_t>(t)].load(std::memory_order_relaxed) < mine) ++above;
  }
  return above < spec_.running;
}

void PctSchedule::at_op_boundary(int thread) {
  if (!spec_.on()) return;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(spec_.max_wait);
  for (;;) {
    const auto now = Clock::now();
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_).count();
    if (since >= next_event_ns_.load(std::memory_order_acquire)) {
      const std::lock_guard<std::mutex> lock(mutex_);
      advance(now);
    }
    if (may_run(thread) || now >= deadline) return;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void PctSchedule::leave(int thread) { left_[static_cast<size_t>(thread)].store(true); }

}  // namespace torchstress
