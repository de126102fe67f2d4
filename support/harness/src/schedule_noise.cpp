#include "torchstress/schedule_noise.h"

#include <chrono>
#include <thread>

namespace torchstress {
namespace {

// Short pauses are a few scheduler quanta at most (they shift which op meets which); the delayed
// thread's pauses are long enough for every other thread to run several ops meanwhile.
constexpr int kShortPauseMaxUs = 50;
constexpr int kLongPauseMinUs = 200;
constexpr int kLongPauseMaxUs = 2000;
constexpr double kLongPauseShare = 0.125;  // of `level`, for the delayed thread

}  // namespace

int delayed_thread(const NoiseSpec& spec, int threads) {
  return threads > 0 ? static_cast<int>(spec.seed % static_cast<uint64_t>(threads)) : 0;
}

ScheduleNoise::ScheduleNoise(const NoiseSpec& spec, int thread, int threads)
    : level_(spec.level),
      delayed_(spec.on() && thread == delayed_thread(spec, threads)),
      quiet_period_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(spec.quiet_period)),
      rng_(spec.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(thread) + 1) {}

bool ScheduleNoise::quiet_now() const {
  if (quiet_period_.count() <= 0) return false;
  return (std::chrono::steady_clock::now().time_since_epoch() / quiet_period_) % 2 == 1;
}

int ScheduleNoise::next_pause_us() {
  if (level_ <= 0.0) return -1;
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  if (delayed_ && chance(rng_) < level_ * kLongPauseShare) {
    return std::uniform_int_distribution<int>(kLongPauseMinUs, kLongPauseMaxUs)(rng_);
  }
  if (chance(rng_) >= level_) return -1;
  return chance(rng_) < 0.5 ? 0 : std::uniform_int_distribution<int>(1, kShortPauseMaxUs)(rng_);
}

void ScheduleNoise::at_op_boundary() {
  if (quiet_now()) return;
  const int pause = next_pause_us();
  if (pause == 0) {
    std::this_thread::yield();
  } else if (pause > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause));
  }
}

}  // namespace torchstress
