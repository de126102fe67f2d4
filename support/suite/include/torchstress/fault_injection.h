// TORCHSTRESS_INJECT=kind[@thread:iteration] and TORCHSTRESS_INJECT_ROUND=R read into the FaultSpec a
// run applies (the mechanism and what each kind does: fault.h in the harness).
#pragma once

#include <string>

#include "torchstress/knobs.h"
#include "torchstress/run_spec.h"

namespace torchstress {

// Parses the INJECT knob's text; throws KnobError naming what is accepted.
FaultSpec parse_fault_spec(const std::string& text);

// The injection a run in isolated round `round` (1-based; 0: not in a round) applies: the INJECT
// knob, unless INJECT_ROUND limits it to another round (or to rounds, and this is none).
FaultSpec fault_for_round(const Knobs& k, int round);

}  // namespace torchstress
