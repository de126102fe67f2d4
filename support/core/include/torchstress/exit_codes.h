// Process exit codes with a meaning of their own, shared by the suite and its self-tests.
#pragma once

namespace torchstress {

inline constexpr int kExitUsage = 2;          // a bad knob or argument, before any work
inline constexpr int kExitStalled = 3;        // the watchdog found a stuck worker
inline constexpr int kExitRoundDeadline = 4;  // an isolated round passed its deadline

}  // namespace torchstress
