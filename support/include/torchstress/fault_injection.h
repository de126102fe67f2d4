// Fault injection, a documented test aid (off by default): TORCHSTRESS_INJECT=kind[@thread:iteration]
// makes one worker misbehave so the self-tests can prove the suite catches each fault class.
//   throw  - the op throws a c10::Error               -> "exception in thread T, iteration I"
//   wrong  - one output element is perturbed by +1    -> "wrong value in thread T, iteration I"
//   nan    - one output element becomes NaN           -> "NaN/Inf in thread T, iteration I"
//   segv   - the worker raises SIGSEGV                -> an isolated round "crashed: SIGSEGV"
//   abort  - the worker calls abort()                 -> an isolated round "crashed: SIGABRT"
//   hang   - the worker blocks forever                -> the watchdog's "thread T stuck at iteration I"
//   race   - every worker stages its input through one shared, unsynchronised scratch tensor: a
//            real data race, wrong results only under concurrency (thread:iteration is ignored)
//   crashsig:<name> - prints a recorded upstream crash text to stderr, then aborts (crash_signatures.h)
// TORCHSTRESS_INJECT_ROUND=R limits it to isolated round R.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace torchstress {

enum class FaultKind { kNone, kThrow, kWrong, kNan, kSegv, kAbort, kHang, kRace, kCrashSignature };

struct FaultSpec {
  FaultKind kind = FaultKind::kNone;
  int thread = 0;
  long iteration = 0;
  std::string signature;  // for kCrashSignature
};

// Parses the INJECT knob; throws KnobError naming what is accepted.
FaultSpec parse_fault_spec(const std::string& text);

// The active injection of this process (respecting INJECT_ROUND and the current round).
const FaultSpec& active_fault();
void set_current_round(int round);  // called in an isolated round's child

// Runner hooks. `before_op` may throw, crash, or block; `after_op` may perturb the output.
void inject_before_op(int thread, long iteration);
at::Tensor inject_after_op(int thread, long iteration, at::Tensor output);

// Input staging used by every workload: under `race` the input goes through a shared scratch
// tensor with no lock, otherwise it is returned unchanged.
at::Tensor stage_input(const at::Tensor& input);

}  // namespace torchstress
