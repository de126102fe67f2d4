// Schedule noise at op boundaries, in the spirit of probabilistic concurrency testing (PCT): a
// worker sometimes yields or pauses a few microseconds before its next op, and one thread, chosen
// by the seed, is delayed longer at random points, so interleavings that a steady loop never
// produces get tried. Every draw comes from the run's seed and the thread number: a failure seen
// with seed S is replayed with TORCHSTRESS_NOISE_SEED=S (the OS scheduler still adds its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "torchstress/run_spec.h"

namespace torchstress {

class ScheduleNoise {
 public:
  ScheduleNoise(const NoiseSpec& spec, int thread, int threads);
  // Called by the worker between two ops: pauses as next_pause_us() draws; with noise off, or in a
  // quiet period (NoiseSpec::quiet_period), it returns at once.
  void at_op_boundary();
  bool quiet_now() const;
  // The next draw: -1 no pause, 0 a yield, else a sleep of that many microseconds.
  int next_pause_us();
  bool delays_this_thread() const { return delayed_; }

 private:
  double level_;
  bool delayed_;
  std::chrono::steady_clock::duration quiet_period_;
  std::mt19937_64 rng_;
};

// The thread that NoiseSpec `spec` delays at random points, of `threads`.
int delayed_thread(const NoiseSpec& spec, int threads);

}  // namespace torchstress
