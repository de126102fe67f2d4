#include "torchstress/progress.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include <condition_variable>
#include <deque>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "torchstress/crash_record.h"
#include "torchstress/exit_codes.h"
#include "torchstress/log.h"

namespace torchstress {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Live boards, readable from a signal handler (plain atomic loads).
std::atomic<const ProgressBoard*> g_live[ProgressBoard::kMaxLiveBoards];

// What every board of this process ran, for progress_tally_text().
struct Tally {
  std::mutex mu;
  int boards = 0;
  int max_threads = 0;
  long calls = 0;
  bool one_call_each = true;  // every thread of every board completed at most one op
  std::vector<std::string> ops;
  pid_t pid = 0;  // the process these boards ran in: a forked child starts its own tally
};
// The tally of this process, under its lock (`lock` is taken here); a forked child forgets its
// parent's boards.
Tally& tally(std::unique_lock<std::mutex>& lock) {
  static Tally t;
  lock = std::unique_lock<std::mutex>(t.mu);
  if (t.pid != ::getpid()) {
    t.pid = ::getpid();
    t.boards = 0;
    t.max_threads = 0;
    t.calls = 0;
    t.one_call_each = true;
    t.ops.clear();
  }
  return t;
}

// The calling thread's OS id, cached (the board stores it at every begin()).
long cached_tid() {
  thread_local long tid = 0;
  if (tid == 0) {
    tid = current_os_thread_id();
    ensure_alt_signal_stack();  // once per thread, before its first op
  }
  return tid;
}

// What the whole process did so far: CPU time of all its threads, and page faults and block reads
// that went to storage (a thread waiting on I/O is busy, not deadlocked).
struct ProcessActivity {
  double wall = 0.0;  // steady clock, s
  double cpu = 0.0;   // s
  long io = 0;        // major page faults + block input operations
};

ProcessActivity process_activity() {
  ProcessActivity a;
  a.wall = static_cast<double>(now_ns()) / 1e9;
  struct timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) a.cpu = static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
  struct rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) a.io = ru.ru_majflt + ru.ru_inblock;
  return a;
}

// True when the OS thread `tid` of this process is runnable ('R' in /proc): a worker starved by a
// busy box is runnable, a deadlocked or lost-wake-up one sleeps. Unknown counts as runnable.
bool thread_runnable(long tid) {
  if (tid <= 0) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return true;
  char buf[512];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* close = std::strrchr(buf, ')');  // the state follows the command name "(...)"
  return close == nullptr || close[1] == '\0' || close[2] == 'R';
}

}  // namespace

double Watchdog::deadlock_seconds(double stall_seconds) {
  return std::min(stall_seconds, std::max(3.0, stall_seconds / 10));
}

ProgressBoard::ProgressBoard(int threads) {
  const int64_t t = now_ns();
  for (int i = 0; i < threads; ++i) {
    slots_.push_back(std::make_unique<Atomic>());
    slots_.back()->last_ns.store(t);
  }
  for (int i = 0; i < kMaxLiveBoards; ++i) {
    const ProgressBoard* expected = nullptr;
    if (g_live[i].compare_exchange_strong(expected, this)) {
      registry_index_ = i;
      break;
    }
  }
}

ProgressBoard::~ProgressBoard() {
  if (registry_index_ >= 0) g_live[registry_index_].store(nullptr);
  const char* op = first_op_.load();
  std::unique_lock<std::mutex> lock;
  Tally& t = tally(lock);
  ++t.boards;
  t.max_threads = std::max(t.max_threads, threads());
  for (const auto& s : slots_) {
    const long n = s->completed.load();
    t.calls += n;
    if (n > 1) t.one_call_each = false;
  }
  if (op && std::find(t.ops.begin(), t.ops.end(), op) == t.ops.end()) t.ops.emplace_back(op);
}

const ProgressBoard* ProgressBoard::live_board(int index) {
  return index >= 0 && index < kMaxLiveBoards ? g_live[index].load() : nullptr;
}

void ProgressBoard::begin(int thread, long iteration, const char* op, long input) {
  auto& s = *slots_[static_cast<size_t>(thread)];
  s.iteration.store(iteration, std::memory_order_relaxed);
  s.op.store(op, std::memory_order_relaxed);
  s.input.store(input, std::memory_order_relaxed);
  s.tid.store(cached_tid(), std::memory_order_relaxed);
  if (first_op_.load(std::memory_order_relaxed) == nullptr) {
    const char* none = nullptr;
    first_op_.compare_exchange_strong(none, op);
  }
  s.last_ns.store(now_ns(), std::memory_order_release);
}

void ProgressBoard::finish_op(int thread) {
  auto& s = *slots_[static_cast<size_t>(thread)];
  s.completed.fetch_add(1, std::memory_order_relaxed);
  s.last_ns.store(now_ns(), std::memory_order_release);
}

void ProgressBoard::done(int thread) { slots_[static_cast<size_t>(thread)]->finished.store(true); }

ProgressBoard::Slot ProgressBoard::read(int thread) const {
  const auto& s = *slots_[static_cast<size_t>(thread)];
  return Slot{s.iteration.load(),
              s.op.load(),
              static_cast<double>(now_ns() - s.last_ns.load(std::memory_order_acquire)) / 1e9,
              s.finished.load(),
              s.completed.load(),
              s.input.load(),
              s.tid.load()};
}

long ProgressBoard::total_completed() const {
  long n = 0;
  for (const auto& s : slots_) n += s->completed.load(std::memory_order_relaxed);
  return n;
}

int ProgressBoard::thread_of_tid(long tid) const {
  for (size_t t = 0; t < slots_.size(); ++t) {
    if (tid != 0 && slots_[t]->tid.load(std::memory_order_relaxed) == tid) return static_cast<int>(t);
  }
  return -1;
}

size_t ProgressBoard::workers_json(char* out, size_t cap) const {
  SignalSafeText j(out, cap);
  j.put_char('[');
  // now_ns() is steady_clock: clock_gettime, async-signal-safe.
  const int64_t now = now_ns();
  for (size_t t = 0; t < slots_.size(); ++t) {
    const auto& s = *slots_[t];
    if (j.room() < 200) break;  // the array stays valid JSON; later threads are left out
    const size_t mark = j.size();
    j.put(t == 0 ? "{\"thread\":" : ",{\"thread\":").put_long(static_cast<long>(t));
    j.put(",\"op\":\"");
    const char* op = s.op.load(std::memory_order_relaxed);
    j.put_json_escaped(op ? op : "");
    j.put("\",\"iteration\":").put_long(s.iteration.load(std::memory_order_relaxed));
    const long input = s.input.load(std::memory_order_relaxed);
    j.put(",\"input\":");
    if (input >= 0)
      j.put_long(input);
    else
      j.put("null");
    j.put(",\"finished\":").put(s.finished.load(std::memory_order_relaxed) ? "true" : "false");
    j.put(",\"ops_done\":").put_long(s.completed.load(std::memory_order_relaxed));
    const int64_t since = now - s.last_ns.load(std::memory_order_relaxed);
    j.put(",\"seconds_since_progress\":").put_fixed(since > 0 ? static_cast<double>(since) / 1e9 : 0.0, 3);
    j.put_char('}');
    if (j.truncated()) {
      j.resize(mark);
      break;
    }
  }
  j.put_char(']');
  return j.size();
}

std::string progress_tally_text() {
  std::unique_lock<std::mutex> lock;
  Tally& t = tally(lock);
  if (t.boards == 0) return "";
  std::string ops;
  for (const auto& o : t.ops) ops += (ops.empty() ? "" : ", ") + o;
  if (ops.empty()) ops = "no op";
  if (t.boards == 1 && t.one_call_each) {
    return fmt::format("{} racing first call{} of {}", t.calls, t.calls == 1 ? "" : "s", ops);
  }
  return fmt::format("{} thread{}, {} call{} of {}", t.max_threads, t.max_threads == 1 ? "" : "s", t.calls,
                     t.calls == 1 ? "" : "s", ops);
}

void reset_progress_tally() {
  std::unique_lock<std::mutex> lock;
  Tally& t = tally(lock);
  t.boards = 0;
  t.max_threads = 0;
  t.calls = 0;
  t.one_call_each = true;
  t.ops.clear();
}

namespace {
constexpr const char* kRanPrefix = "torchstress-round-ran: ";
}  // namespace

std::string round_ran_line() {
  const std::string ran = progress_tally_text();
  return ran.empty() ? "" : kRanPrefix + ran + "\n";
}

std::string round_ran_from_output(const std::string& output) {
  const auto pos = output.rfind(kRanPrefix);
  if (pos == std::string::npos) return "";
  const auto start = pos + std::string(kRanPrefix).size();
  return output.substr(start, output.find('\n', start) - start);
}

std::string Watchdog::describe_stall(const ProgressBoard& board, int stuck, double stall_seconds) {
  const auto s = board.read(stuck);
  const std::string input = s.input >= 0 ? fmt::format(" (input {})", s.input) : "";
  std::string msg =
      fmt::format("thread {} stuck at iteration {} in {}{} (no progress for {:.1f} s, stall deadline {:.1f} s)", stuck,
                  s.iteration, s.op, input, s.seconds_since_progress, stall_seconds);
  msg += "; other threads:";
  for (int t = 0; t < board.threads(); ++t) {
    if (t == stuck) continue;
    const auto o = board.read(t);
    msg += fmt::format(" [thread {}: {} iteration {} in {}, {} ops done]", t, o.finished ? "finished after" : "at",
                       o.iteration, o.op, o.completed_ops);
  }
  return msg;
}

struct Watchdog::Impl {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;
};

Watchdog::Watchdog(const ProgressBoard& board, std::chrono::duration<double> stall, std::string what,
                   ResultsSink& results)
    : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([this, &board, stall, what, &results] {
    const auto poll = std::chrono::duration<double>(std::min(1.0, std::max(0.05, stall.count() / 4)));
    double worst = 0.0;  // the longest time any unfinished worker went without progress
    int worst_thread = -1;
    const double quiet = deadlock_seconds(stall.count());
    std::deque<ProcessActivity> history;  // one sample per poll, the last `quiet` seconds and one more
    double last_runnable = process_activity().wall;  // when a stuck worker was last seen runnable
    std::unique_lock<std::mutex> lock(impl_->mu);
    while (!impl_->cv.wait_for(lock, poll, [this] { return impl_->stop; })) {
      const ProcessActivity now = process_activity();
      history.push_back(now);
      while (history.size() > 2 && history[1].wall <= now.wall - quiet) history.pop_front();
      // A deadlock or lost wake-up need not wait for the stall deadline: every running worker
      // without progress for `quiet` while the process was idle all that time (under 5% of one
      // core, no reads from storage) is blocked for good.
      int running = 0, oldest = -1;
      double least_quiet = 1e300, oldest_s = -1.0;
      for (int t = 0; t < board.threads(); ++t) {
        const auto s = board.read(t);
        if (s.finished) continue;
        ++running;
        // A starved thread waits for a core, runnable, and looks idle to the process's CPU time:
        // the early call needs every worker asleep for the whole window.
        if (thread_runnable(s.tid)) last_runnable = now.wall;
        least_quiet = std::min(least_quiet, s.seconds_since_progress);
        if (s.seconds_since_progress > oldest_s) {
          oldest_s = s.seconds_since_progress;
          oldest = t;
        }
      }
      const ProcessActivity& then = history.front();
      const bool blocked = running > 0 && least_quiet >= quiet && then.wall <= now.wall - quiet &&
                           now.cpu - then.cpu < 0.05 * (now.wall - then.wall) && now.io == then.io &&
                           last_runnable <= now.wall - quiet;
      for (int t = 0; t < board.threads(); ++t) {
        const auto s = board.read(t);
        if (s.finished) continue;
        if (s.seconds_since_progress > worst) {
          worst = s.seconds_since_progress;
          worst_thread = t;
        }
        const bool deadlocked = blocked && t == oldest;
        if (s.seconds_since_progress < stall.count() && !deadlocked) continue;
        std::string msg = describe_stall(board, t, stall.count());
        if (s.seconds_since_progress < stall.count()) {
          msg += fmt::format(
              "; every running worker blocked for {:.1f} s with the process idle ({:.0f} ms of CPU): a deadlock or "
              "lost wake-up, named before the stall deadline",
              now.wall - then.wall, 1000 * (now.cpu - then.cpu));
        }
        // Written first, so the record survives the exit below: a typed "stall" error and every
        // worker's op, iteration and input, as a crash record has them.
        std::vector<char> workers(64 * 1024);
        board.workers_json(workers.data(), workers.size());
        ErrorRecord e = ErrorRecord::at(ErrorKind::kStall, t, s.iteration, s.op ? s.op : "", "", msg);
        results.append_stall_with_workers(what, e, workers.data());
        logger("watchdog")->critical("{}: {}", what, msg);
        std::fprintf(stderr, "%s:0: Failure\ntorchstress watchdog: %s: %s\n[  STALLED ] %s\n", __FILE__, what.c_str(),
                     msg.c_str(), what.c_str());
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(kExitStalled);
      }
    }
    // A worker that came within half the deadline is worth a line: the deadline may be too short
    // for this box, or a hang nearly happened.
    if (worst_thread >= 0 && worst >= stall.count() / 2) {
      logger("watchdog")->warn("{}: near miss: thread {} went {:.1f} s without progress (stall deadline {:.1f} s)", what,
                               worst_thread, worst, stall.count());
    } else if (worst_thread >= 0) {
      logger("watchdog")->debug("{}: longest time without progress {:.2f} s (thread {}; stall deadline {:.1f} s)",
                                what, worst, worst_thread, stall.count());
    }
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

}  // namespace torchstress
