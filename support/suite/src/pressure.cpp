#include "torchstress/pressure.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>

#include "torchstress/forked_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
#include "torchstress/reference_file.h"
#include "torchstress/results.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/variety.h"

namespace torchstress {
namespace {

// Varies `w` unless that calls its op (a cold round's first call must be the race's).
void vary(Workload& w, const VarietySpec& v) {
  if (auto* varied = dynamic_cast<Varied*>(&w); varied != nullptr && !varied->vary_calls_op()) varied->vary(v);
}


}  // namespace

std::vector<ErrorRecord> WarmPressure::errors() const {
  std::vector<ErrorRecord> all = threaded.errors;
  all.insert(all.end(), soak.errors.begin(), soak.errors.end());
  return all;
}

WarmPressure run_warm_pressure(Workload& w, RunSpec spec) {
  WarmPressure p;
  p.varied = spec.variety.on && dynamic_cast<Varied*>(&w) != nullptr;
  if (!spec.pressure.on()) {
    p.threaded = run_workload(w, spec);
    return p;
  }
  RunSpec threaded = spec;
  threaded.duration = spec.pressure.warm();
  threaded.stop_at_first_error = true;
  if (spec.schedule == SchedulePolicy::kPct) {
    threaded.pct.depth = static_cast<int>(knobs().pct_depth);
    threaded.noise.level = 0.0;
  }
  p.threaded = run_workload(w, threaded);
  if (!p.threaded.errors.empty() || p.threaded.failed_ops > 0) return p;
  RunSpec soak = spec;
  soak.duration = spec.pressure.soak();
  soak.stop_at_first_error = true;
  soak.keep_prepared = true;
  soak.sync = SyncPolicy::kNone;
  // Unless CUDA_STREAMS was set, the soak issues on a pool stream per thread: stream-ordering bugs
  // hide on the shared default stream (it serialises the threads' work) while others show only
  // there, so the budget gives each stream policy a part (the warm part keeps the knob's, shared).
  if (!knobs().overridden("CUDA_STREAMS")) soak.cuda_streams = StreamPolicy::kPerThread;
  p.soak_on_pool_streams = w.device().is_cuda() && soak.cuda_streams == StreamPolicy::kPerThread;
  if (spec.schedule != SchedulePolicy::kNoise) {
    soak.pct.depth = static_cast<int>(knobs().pct_depth);
    soak.noise.level = 0.0;
  }
  p.soak = run_workload(w, soak);
  p.soak.noise = soak.noise;
  return p;
}

void record_warm_pressure(const WarmPressure& p) {
  record_run(p.threaded);
  if (p.soak.total_ops > 0 || !p.soak.errors.empty()) record_run(p.soak, "soak_");
  record("pressure_calls", static_cast<double>(p.calls()));
  record("pressure_seconds", p.seconds());
  const RunResult& t = p.threaded;
  logger("pressure")->info(
      "pressure applied to {}: {} calls in {:.2f} s by {} threads (warm threaded: {} calls in {:.2f} s, {}; "
      "pipelined soak: {} calls in {:.2f} s, {}{}){}",
      t.workload, p.calls(), p.seconds(), t.threads, t.total_ops, t.wall_seconds,
      t.pct.on() ? fmt::format("PCT depth {}", t.pct.depth) : t.noise.on() ? fmt::format("noise {:.2g}", t.noise.level) : "no noise",
      p.soak.total_ops, p.soak.wall_seconds,
      p.soak.pct.on() ? fmt::format("PCT depth {}, {} epochs", p.soak.pct.depth, p.soak.pct_epochs) : "noise",
      p.soak_on_pool_streams ? ", a pool stream per thread" : "",      p.varied ? fmt::format("; shapes and lifetimes varied, seed {}", t.variety.seed) : "");
}

RoundsSummary run_cold_pressure(const std::string& key, const WorkloadFactory& make,
                                const std::function<RunSpec(int round)>& spec_for_round) {
  const RunSpec base = spec_for_round(0);
  // At least QUICK_ROUNDS rounds (default 2), more while the budget's cold part lasts.
  RoundsSpec rounds = rounds_spec_from_knobs(knobs().quick_rounds);
  rounds.budget = base.pressure.cold();
  const c10::Device device = make()->device();
  const auto start = std::chrono::steady_clock::now();
  RoundsSummary s;
  if (cold_rounds_fork(device)) {
    // The references come from a clean fork (this process stays cold for the rounds' forks).
    char path[] = "/tmp/torchstress-cold-refs-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) throw std::runtime_error("cannot make a file for the cold rounds' references under /tmp");
    ::close(fd);
    const std::string file = path;
    run_in_fork(
        [&] {
          auto w = make();
          if (base.variety.on) vary(*w, base.variety);
          w->prepare(base.threads, 1);
          save_references(file, w->references());
        },
        rounds.round_timeout);
    s = run_cold_rounds(rounds, device, [&](int round) {
      auto w = make();
      RunSpec spec = spec_for_round(round);
      spec.variety = base.variety;
      if (spec.variety.on) vary(*w, spec.variety);
      const HostReferences refs = load_references(file);
      RunResult r = run_cold(*w, spec, &refs);
      return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
    });
    ::unlink(file.c_str());
  } else {
    save_clean_references(key, make, base.threads);
    s = run_cold_rounds(rounds, device, [&](int round) {
      auto w = make();
      const HostReferences refs = clean_references(key);
      RunResult r = run_cold(*w, spec_for_round(round), &refs);
      return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
    });
  }
  record_cold_pressure(s, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return s;
}

void record_cold_pressure(const RoundsSummary& s, double seconds) {
  if (in_death_test_child()) return;
  record("cold_rounds", static_cast<double>(s.total));
  record("cold_seconds", seconds);
  logger("pressure")->info("pressure applied: {} cold rounds of first calls released together in {:.2f} s: {} passed",
                           s.total, seconds, s.passed);
}

}  // namespace torchstress
