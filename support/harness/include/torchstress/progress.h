// Progress board: what each worker is doing right now (iteration, op, last progress time). The
// watchdog reads it to name a stuck thread; the soak reads it for progress lines.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "torchstress/results_sink.h"

namespace torchstress {

class ProgressBoard {
 public:
  explicit ProgressBoard(int threads);

  // Worker side (lock-free).
  void begin(int thread, long iteration, const char* op);
  void finish_op(int thread);
  void done(int thread);

  struct Slot {
    long iteration;
    const char* op;
    double seconds_since_progress;
    bool finished;
    long completed_ops;
  };
  Slot read(int thread) const;
  int threads() const { return static_cast<int>(slots_.size()); }
  long total_completed() const;

 private:
  struct Atomic {
    std::atomic<long> iteration{-1};
    std::atomic<const char*> op{"start"};
    std::atomic<int64_t> last_ns{0};
    std::atomic<bool> finished{false};
    std::atomic<long> completed{0};
  };
  std::vector<std::unique_ptr<Atomic>> slots_;
};

// Watches a board from its own thread. If an unfinished worker makes no progress for `stall`,
// it writes the stall to `results`, prints a failure naming the stuck thread (its
// iteration and op) and what every other thread was doing, and ends the process with
// kExitStalled: a stuck thread cannot be cancelled, and results already written survive.
class Watchdog {
 public:
  Watchdog(const ProgressBoard& board, std::chrono::duration<double> stall, std::string what, ResultsSink& results);
  ~Watchdog();  // stops watching
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The message the watchdog would print now for `stuck_thread` (also used by self-tests).
  static std::string describe_stall(const ProgressBoard& board, int stuck_thread, double stall_seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchstress
