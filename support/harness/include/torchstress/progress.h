// Progress board: what each worker is doing right now (iteration, op, input, last progress time).
// The watchdog reads it to name a stuck thread; the soak reads it for progress lines; the crash
// handler (crash_record.h) reads every live board, from a signal handler, to say what each worker
// was doing when the process died. Every live board is in a fixed-size registry for that reason.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "torchstress/results_sink.h"

namespace torchstress {

class ProgressBoard {
 public:
  explicit ProgressBoard(int threads);
  ~ProgressBoard();  // leaves the registry; adds to the process's tally (progress_tally_text())
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  // Worker side (lock-free). `input`: which of the thread's inputs the op reads (-1: not known).
  // The first begin() of a thread also gives it an alternate signal stack, so that a stack
  // overflow in a worker still reaches the crash handler.
  void begin(int thread, long iteration, const char* op, long input = -1);
  void finish_op(int thread);
  void done(int thread);

  struct Slot {
    long iteration;
    const char* op;
    double seconds_since_progress;
    bool finished;
    long completed_ops;
    long input = -1;
    long tid = 0;  // the worker's OS thread id (0: not started)
  };
  Slot read(int thread) const;
  int threads() const { return static_cast<int>(slots_.size()); }
  long total_completed() const;

  // Every worker as JSON text, [{"thread":0,"op":"relu","iteration":7,"input":3,"finished":false,
  // "ops_done":7,"seconds_since_progress":0.01}, ...], and a one-line description of one
  // worker ("at iteration 7 in relu (input 3), 7 ops done"). Async-signal-safe: no allocation,
  // no locks; write into `out` (at most `cap` bytes, always terminated) and return the length.
  size_t workers_json(char* out, size_t cap) const;

  // Async-signal-safe lookups for the crash handler: the worker index whose OS thread id is `tid`
  // (-1: none of this board's workers).
  int thread_of_tid(long tid) const;

  // Live boards (async-signal-safe to read from a handler): at most kMaxLiveBoards at once.
  static constexpr int kMaxLiveBoards = 16;
  static const ProgressBoard* live_board(int index);

 private:
  struct Atomic {
    std::atomic<long> iteration{-1};
    std::atomic<const char*> op{"start"};
    std::atomic<int64_t> last_ns{0};
    std::atomic<bool> finished{false};
    std::atomic<long> completed{0};
    std::atomic<long> input{-1};
    std::atomic<long> tid{0};  // OS thread id of the worker (0: not started)
  };
  std::vector<std::unique_ptr<Atomic>> slots_;
  std::atomic<const char*> first_op_{nullptr};  // the first op any worker began: the board's op
  int registry_index_ = -1;
};

// What the boards of this process ran, for a round's result line: "8 racing first calls of
// matmul128" (every thread made one call, released together) or "8 threads, 400 calls of
// layernorm". Empty when no board ran.
std::string progress_tally_text();
void reset_progress_tally();  // forgets the boards so far (a round's child, before its round)
// A round's child says what it ran on stderr with this line ("torchstress-round-ran: <tally>\n",
// "" when no board ran); its parent reads it back from the child's output ("" when absent).
std::string round_ran_line();
std::string round_ran_from_output(const std::string& output);

// Watches a board from its own thread. If an unfinished worker makes no progress for `stall`,
// it writes the stall to `results` (a typed "stall" error and every worker's op, iteration and
// input), prints a failure naming the stuck thread (its iteration and op) and what every other
// thread was doing, and ends the process with kExitStalled: a stuck thread cannot be cancelled,
// and results already written survive. A deadlock or lost wake-up is named sooner: when every
// running worker has made no progress for deadlock_seconds(stall) and the whole process was idle
// meanwhile. A worker that came within half the deadline of it is logged as a near miss (so a
// deadline too short for the box shows before it fires).
class Watchdog {
 public:
  Watchdog(const ProgressBoard& board, std::chrono::duration<double> stall, std::string what, ResultsSink& results);
  ~Watchdog();  // stops watching
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // How long every running worker must go without progress, with the process idle (under 5% of
  // one core, no reads from storage), for the watchdog to name a deadlock before `stall_seconds`:
  // a tenth of it, at least 3 s (at most the stall deadline itself).
  static double deadlock_seconds(double stall_seconds);

  // The message the watchdog would print now for `stuck_thread` (also used by self-tests).
  static std::string describe_stall(const ProgressBoard& board, int stuck_thread, double stall_seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchstress
