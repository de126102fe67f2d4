// Fault injection's mechanism, a test aid: given a FaultSpec (run_spec.h), makes one worker misbehave
// so the self-tests can prove the suite catches each fault class. Parsing TORCHSTRESS_INJECT into a
// FaultSpec is the suite's (fault_injection.h).
//   throw  - the op throws a c10::Error               -> "exception in thread T, iteration I"
//   wrong  - one output element is perturbed by +1    -> "wrong value in thread T, iteration I"
//   nan    - one output element becomes NaN           -> "NaN/Inf in thread T, iteration I"
//   segv   - the worker raises SIGSEGV                -> an isolated round "crashed: SIGSEGV"
//   abort  - the worker calls abort()                 -> an isolated round "crashed: SIGABRT"
//   hang   - the worker blocks forever                -> the watchdog's "thread T stuck at iteration I"
//   race   - every worker stages its input through one shared, unsynchronised scratch tensor: a
//            real data race, wrong results only under concurrency (thread:iteration is ignored)
//   crashsig:<name> - prints a recorded upstream crash text to stderr, then aborts (crash_signatures.h)
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <mutex>
#include <string>

#include "torchstress/run_spec.h"

namespace torchstress {

// Runner hooks. `before_op` may throw, crash, or block; `after_op` may perturb the output.
void inject_before_op(const FaultSpec& fault, int thread, long iteration);
at::Tensor inject_after_op(const FaultSpec& fault, int thread, long iteration, at::Tensor output);

// Input staging of a workload: under `race` every input goes through one scratch tensor per shape,
// shared by all threads and written without a lock; otherwise the input is returned unchanged.
class RaceStaging {
 public:
  void arm(bool race) { armed_ = race; }
  at::Tensor stage(const at::Tensor& input);

 private:
  bool armed_ = false;
  std::mutex mu_;
  std::map<std::string, at::Tensor> scratch_by_shape_;
};

}  // namespace torchstress
