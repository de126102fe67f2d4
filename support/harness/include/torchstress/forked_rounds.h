// Cold rounds paid for by time: on the CPU each round is a fork() of a process that has run no op
// yet, so its threads' first calls meet caches, tables and pools as cold as in a fresh process,
// for milliseconds instead of the second a re-executed binary costs; many rounds fit a test's
// budget. Elsewhere (CUDA and Metal are not fork-safe), or once this process has run an op, the
// rounds re-execute the binary (isolated_rounds.h). Outcomes, records and the summary are the
// same either way.
#pragma once

#include <c10/core/Device.h>

#include <chrono>
#include <functional>

#include "torchstress/isolated_rounds.h"
#include "torchstress/run_spec.h"

namespace torchstress {

// False once the runner has run an op in this process (run_workload, run_cold, a round's body):
// a fork would inherit what it warmed.
bool process_is_cold();
void mark_process_warm();

// Rounds until spec.budget is spent or a round fails (at least spec.rounds, at most
// spec.max_rounds), each a fork
// of this process with its own deadline (spec.round_timeout). Call only where fork is safe
// (process_is_cold() on the CPU): run_cold_rounds() decides.
RoundsSummary run_forked_rounds(const RoundsSpec& spec, const RoundBody& body);

// True when cold rounds on `device` would be forks of this process (the CPU, no op run yet, not
// itself a round's child).
bool cold_rounds_fork(const c10::Device& device);

// Runs `work` in a forked child of this process and waits for it (this process stays as cold as it
// was); throws std::runtime_error with the child's last stderr lines when it does not exit 0.
void run_in_fork(const std::function<void()>& work, std::chrono::duration<double> timeout);

// Forked rounds when `device` is the CPU and the process is cold; otherwise re-executed rounds,
// max(spec.rounds, budget / 1 s) of them. From a TEST body (re-executed rounds use EXPECT_EXIT).
RoundsSummary run_cold_rounds(const RoundsSpec& spec, const c10::Device& device, const RoundBody& body);

}  // namespace torchstress
