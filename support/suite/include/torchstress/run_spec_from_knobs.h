// The one door from the knobs to a run: RunSpec and RoundsSpec filled from TORCHSTRESS_* (threads,
// deadlines, CUDA stream and sync policy, fault injection); a test then overrides what it fixes.
#pragma once

#include "torchstress/knobs.h"
#include "torchstress/run_spec.h"

namespace torchstress {

// threads, gate and stall deadlines, stream and sync policy, progress interval, the fault to
// inject in isolated round `round` (0: outside any round) and the suite's results file as sink. iterations and duration are the test's.
RunSpec run_spec_from_knobs(const Knobs& k, int round = 0);
inline RunSpec run_spec_from_knobs(int round = 0) { return run_spec_from_knobs(knobs(), round); }

// `rounds` rounds with the knobs' round deadline and pass threshold.
RoundsSpec rounds_spec_from_knobs(long rounds, const Knobs& k = knobs());

}  // namespace torchstress
