#include "torchstress/run_spec_from_knobs.h"

#include "torchstress/fault_injection.h"
#include "torchstress/results.h"

#include <random>

namespace torchstress {
namespace {

// A seed nobody chose: logged and recorded by the runner, so the run can still be replayed.
uint64_t fresh_noise_seed() {
  std::random_device entropy;
  return (static_cast<uint64_t>(entropy()) << 20U ^ entropy()) % 1000000000ULL + 1;
}

}  // namespace

RunSpec run_spec_from_knobs(const Knobs& k, int round) {
  RunSpec spec;
  spec.threads = static_cast<int>(k.threads);
  spec.gate_deadline = k.gate_timeout;
  spec.stall_deadline = k.stall;
  spec.cuda_streams = k.cuda_streams;
  spec.sync = k.sync;
  spec.check_batch = static_cast<int>(k.check_batch);
  spec.capture = k.check_capture;
  spec.inputs_per_thread = static_cast<int>(k.inputs_per_thread);
  spec.noise.level = k.noise;
  spec.noise.seed = k.noise_seed ? static_cast<uint64_t>(*k.noise_seed) : fresh_noise_seed();
  // One seed replays a run: the noise draws, the PCT priorities and change points, the input shapes.
  spec.pct.seed = spec.noise.seed;
  // SCHEDULE=pct puts every run under PCT priorities (and no noise), SCHEDULE=free every run under
  // none; by default a stress test's budget gives each explorer a part (pressure.h).
  spec.pct.depth = k.schedule == SchedulePolicy::kPct ? static_cast<int>(k.pct_depth) : 0;
  if (k.schedule == SchedulePolicy::kPct || k.schedule == SchedulePolicy::kFree) spec.noise.level = 0.0;
  spec.variety.on = true;
  spec.variety.seed = spec.noise.seed;
  spec.pressure.budget = k.budget;
  spec.schedule = k.schedule;
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
