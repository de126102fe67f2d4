#include "torchstress/run_spec_from_knobs.h"

#include "torchstress/fault_injection.h"
#include "torchstress/results.h"

namespace torchstress {

RunSpec run_spec_from_knobs(const Knobs& k, int round) {
  RunSpec spec;
  spec.threads = static_cast<int>(k.threads);
  spec.gate_deadline = k.gate_timeout;
  spec.stall_deadline = k.stall;
  spec.cuda_streams = k.cuda_streams;
  spec.sync = k.sync;
  spec.fault = fault_for_round(k, round);
  spec.progress_interval = k.progress_seconds;
  spec.results = shared_results_log();
  return spec;
}

RoundsSpec rounds_spec_from_knobs(long rounds, const Knobs& k) {
  RoundsSpec spec;
  spec.rounds = static_cast<int>(rounds);
  spec.round_timeout = k.round_timeout;
  spec.pass_threshold = k.round_pass_threshold;
  spec.results = shared_results_log();
  return spec;
}

}  // namespace torchstress
