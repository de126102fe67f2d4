// Start gate: workers are created first, wait here, and are released together once all arrived.
// Every wait has a deadline, and the gate can be broken so nobody is ever left blocked.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace torchstress {

class StartGate {
 public:
  StartGate(int parties, std::chrono::duration<double> deadline);

  // Worker side: announce readiness and wait until opened. Returns false if the gate was broken
  // or its deadline passed; the worker must then return without doing work. Once opened, the
  // workers line up again by spinning until all are awake (at most kLineUp), so their first ops
  // start within nanoseconds of each other rather than one condition-variable wake-up apart.
  bool arrive_and_wait(int party);

  // Main side: wait (bounded) for every party, then open. On expiry the gate is broken, and
  // `missing` names the parties that never arrived.
  bool open_when_all_arrived(std::string* missing);

  // Releases every waiter; arrive_and_wait returns false from now on.
  void break_gate(const std::string& why);

  bool broken() const;
  std::string broken_reason() const;

  // When the gate opened: a run's clock starts here, not after open_when_all_arrived() returns
  // (a fast worker may be done by then, which made 1-thread rates look thousands of times faster).
  std::chrono::steady_clock::time_point opened_at() const;

 private:
  const int parties_;
  const std::chrono::duration<double> deadline_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> arrived_;
  int arrived_count_ = 0;
  bool open_ = false;
  bool broken_ = false;
  std::string why_;
  std::chrono::steady_clock::time_point opened_at_{};
  std::atomic<int> awake_{0};
  static constexpr std::chrono::milliseconds kLineUp{100};
};

// Breaks the gate when the main thread leaves the scope without opening it (early return,
// failed assertion, exception), so no worker stays blocked.
class GateBreaker {
 public:
  explicit GateBreaker(StartGate& gate) : gate_(gate) {}
  ~GateBreaker() {
    if (armed_) gate_.break_gate("main thread left before opening the gate");
  }
  void disarm() { armed_ = false; }

 private:
  StartGate& gate_;
  bool armed_ = true;
};

}  // namespace torchstress
