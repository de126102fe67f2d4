// The oracle's mutation score: a prepared workload's right output is corrupted in each way a
// threading bug corrupts outputs (one element a step outside its tolerance, zeroed, NaN, another
// thread's output, the previous call's, never written, undefined, its shape permuted, a second
// output corrupted), and Workload::check() and check_batch() must both reject each one. A
// corruption they accept is a survivor: a hole in the check that a real bug could pass through.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "torchstress/workloads.h"

namespace torchstress {

enum class MutationStatus { kCaught, kSurvived, kNotApplicable };

struct MutationOutcome {
  std::string subject;   // the workload's name
  std::string mutation;  // "one element zeroed"
  MutationStatus status = MutationStatus::kNotApplicable;
  std::string detail;    // where, and what the check said (or why it does not apply)
};

// Every mutation of `w`'s output for thread 0, input 0, checked as thread 0's input 0. `w` must be
// prepared with at least 2 threads and 2 inputs per thread; `seed` picks the positions.
std::vector<MutationOutcome> mutate_and_check(const Workload& w, uint64_t seed);

// "caught 41 of 41 (0 survivors; 4 not applicable)"
std::string mutation_score_line(const std::vector<MutationOutcome>& outcomes);

}  // namespace torchstress
