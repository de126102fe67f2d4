#include "torchstress/progress.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "torchstress/exit_codes.h"
#include "torchstress/log.h"

namespace torchstress {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProgressBoard::ProgressBoard(int threads) {
  const int64_t t = now_ns();
  for (int i = 0; i < threads; ++i) {
    slots_.push_back(std::make_unique<Atomic>());
    slots_.back()->last_ns.store(t);
  }
}

void ProgressBoard::begin(int thread, long iteration, const char* op) {
  auto& s = *slots_[static_cast<size_t>(thread)];
  s.iteration.store(iteration, std::memory_order_relaxed);
  s.op.store(op, std::memory_order_relaxed);
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
  return Slot{s.iteration.load(), s.op.load(), (now_ns() - s.last_ns.load(std::memory_order_acquire)) / 1e9,
              s.finished.load(), s.completed.load()};
}

long ProgressBoard::total_completed() const {
  long n = 0;
  for (const auto& s : slots_) n += s->completed.load(std::memory_order_relaxed);
  return n;
}

std::string Watchdog::describe_stall(const ProgressBoard& board, int stuck, double stall_seconds) {
  const auto s = board.read(stuck);
  std::string msg =
      fmt::format("thread {} stuck at iteration {} in {} (no progress for {:.1f} s, stall deadline {:.1f} s)", stuck,
                  s.iteration, s.op, s.seconds_since_progress, stall_seconds);
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
    std::unique_lock<std::mutex> lock(impl_->mu);
    while (!impl_->cv.wait_for(lock, poll, [this] { return impl_->stop; })) {
      for (int t = 0; t < board.threads(); ++t) {
        const auto s = board.read(t);
        if (s.finished || s.seconds_since_progress < stall.count()) continue;
        const std::string msg = describe_stall(board, t, stall.count());
        // Written first, so the record survives the exit below.
        results.append_stall(what, ErrorRecord::at(ErrorKind::kStall, t, s.iteration, s.op ? s.op : "", "", msg));
        logger("watchdog")->critical("{}: {}", what, msg);
        std::fprintf(stderr, "%s:0: Failure\ntorchstress watchdog: %s: %s\n[  STALLED ] %s\n", __FILE__, what.c_str(),
                     msg.c_str(), what.c_str());
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(kExitStalled);
      }
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
