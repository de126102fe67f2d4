#include "torchstress/start_gate.h"

#include <fmt/format.h>

#include <thread>

namespace torchstress {

StartGate::StartGate(int parties, std::chrono::duration<double> deadline)
    : parties_(parties), deadline_(deadline), arrived_(static_cast<size_t>(parties), false) {}

bool StartGate::arrive_and_wait(int party) {
  std::unique_lock<std::mutex> lock(mu_);
  if (party >= 0 && party < parties_ && !arrived_[static_cast<size_t>(party)]) {
    arrived_[static_cast<size_t>(party)] = true;
    ++arrived_count_;
  }
  cv_.notify_all();
  const bool released = cv_.wait_for(lock, deadline_, [&] { return open_ || broken_; });
  if (!released) {
    broken_ = true;
    why_ = fmt::format("party {} waited {:.1f} s and the gate never opened", party, deadline_.count());
    cv_.notify_all();
  }
  if (!(open_ && !broken_)) return false;
  lock.unlock();
  // The condition variable wakes waiters one at a time, each re-taking the lock: microseconds
  // apart, enough to serialise a first-use race. Spinning here until every party is awake starts
  // them together (bounded: a descheduled party cannot hold the others).
  awake_.fetch_add(1, std::memory_order_acq_rel);
  const auto until = std::chrono::steady_clock::now() + kLineUp;
  while (awake_.load(std::memory_order_acquire) < parties_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  return true;
}

bool StartGate::open_when_all_arrived(std::string* missing) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool all = cv_.wait_for(lock, deadline_, [&] { return arrived_count_ == parties_ || broken_; });
  if (all && !broken_) {
    opened_at_ = std::chrono::steady_clock::now();
    open_ = true;
    cv_.notify_all();
    return true;
  }
  std::string names;
  for (int i = 0; i < parties_; ++i) {
    if (!arrived_[static_cast<size_t>(i)]) names += (names.empty() ? "" : ", ") + std::to_string(i);
  }
  // Always name who is missing, even when a worker's own deadline broke the gate first.
  std::string why =
      names.empty() ? why_ : fmt::format("never arrived within {:.1f} s: thread(s) {}", deadline_.count(), names);
  if (broken_ && !names.empty() && !why_.empty()) why += " (" + why_ + ")";
  if (missing) *missing = why;
  if (!broken_) {
    broken_ = true;
    why_ = why;
  }
  cv_.notify_all();
  return false;
}

void StartGate::break_gate(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_) {
    broken_ = true;
    why_ = why;
  }
  cv_.notify_all();
}

bool StartGate::broken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_;
}

std::chrono::steady_clock::time_point StartGate::opened_at() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_at_;
}

std::string StartGate::broken_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return why_;
}

}  // namespace torchstress
