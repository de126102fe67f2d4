#include "torchstress/pressure.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

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

// In the clean process only: `v` with the dtypes `w`'s op accepts (Varied::probed calls the op).
VarietySpec probed(Workload& w, const VarietySpec& v) {
  auto* varied = dynamic_cast<Varied*>(&w);
  return varied != nullptr && v.on && !varied->vary_calls_op() ? varied->probed(v) : v;
}

// The probed dtypes travel from the clean fork to the rounds' forks in a file beside the references.
void save_dtypes(const std::string& file, const std::vector<c10::ScalarType>& dtypes) {
  std::ofstream out(file);
  for (const auto d : dtypes) out << static_cast<int>(d) << '\n';
  if (!out) throw std::runtime_error("cannot write the cold rounds' dtypes to " + file);
}
std::vector<c10::ScalarType> load_dtypes(const std::string& file) {
  std::ifstream in(file);
  std::vector<c10::ScalarType> dtypes;
  for (int d = 0; in >> d;) dtypes.push_back(static_cast<c10::ScalarType>(d));
  return dtypes;
}


}  // namespace

std::vector<ErrorRecord> WarmPressure::errors() const {
  std::vector<ErrorRecord> all = threaded.errors;
  for (const RunResult* part : {&free, &soak}) all.insert(all.end(), part->errors.begin(), part->errors.end());
  return all;
}

namespace {

bool failed(const RunResult& r) { return !r.errors.empty() || r.failed_ops > 0; }

// One warm part of the budget: `duration` long, stopping at its first error, under the explorer
// `explorer` (kNoise: the spec's noise; kFree: none; kPct: PCT priorities, no noise).
RunSpec warm_part(const RunSpec& spec, std::chrono::duration<double> duration, SchedulePolicy explorer) {
  RunSpec part = spec;
  part.duration = duration;
  part.stop_at_first_error = true;
  part.pct.depth = explorer == SchedulePolicy::kPct ? static_cast<int>(knobs().pct_depth) : 0;
  if (explorer != SchedulePolicy::kNoise) part.noise.level = 0.0;
  return part;
}

// Which explorer a part runs under: its own in the mixed policy, else the policy's everywhere.
SchedulePolicy explorer_of(SchedulePolicy policy, SchedulePolicy own) {
  return policy == SchedulePolicy::kMixed ? own : policy;
}

}  // namespace

WarmPressure run_warm_pressure(Workload& w, RunSpec spec) {
  WarmPressure p;
  p.varied = spec.variety.on && dynamic_cast<Varied*>(&w) != nullptr;
  if (!spec.pressure.on()) {
    p.threaded = run_workload(w, spec);
    return p;
  }
  p.threaded = run_workload(w, warm_part(spec, spec.pressure.noisy(), explorer_of(spec.schedule, SchedulePolicy::kNoise)));
  if (failed(p.threaded)) return p;
  RunSpec free_running = warm_part(spec, spec.pressure.free_running(), explorer_of(spec.schedule, SchedulePolicy::kFree));
  free_running.keep_prepared = true;
  p.free = run_workload(w, free_running);
  if (failed(p.free)) return p;
  RunSpec soak = warm_part(spec, spec.pressure.soak(), explorer_of(spec.schedule, SchedulePolicy::kPct));
  soak.keep_prepared = true;
  soak.sync = SyncPolicy::kNone;
  // Unless CUDA_STREAMS was set, the soak issues on a pool stream per thread: stream-ordering bugs
  // hide on the shared default stream (it serialises the threads' work) while others show only
  // there, so the budget gives each stream policy a part (the threaded parts keep the knob's, shared).
  if (!knobs().overridden("CUDA_STREAMS")) soak.cuda_streams = StreamPolicy::kPerThread;
  p.soak_on_pool_streams = w.device().is_cuda() && soak.cuda_streams == StreamPolicy::kPerThread;
  p.soak = run_workload(w, soak);
  return p;
}

namespace {

// ", dtypes (float32, float64)" when the op's accepted dtypes were probed (op: workloads), else "".
std::string dtypes_text(const VarietySpec& v) {
  return v.dtypes.empty() ? "" : fmt::format(", dtypes ({})", dtype_list_text(v.dtypes));
}

std::string explorer_text(const RunResult& r) {
  if (r.pct.on()) return fmt::format("PCT depth {}, {} epochs", r.pct.depth, r.pct_epochs);
  return r.noise.on() ? fmt::format("noise {:.2g}", r.noise.level) : "the OS scheduler alone";
}

}  // namespace

void record_warm_pressure(const WarmPressure& p) {
  record_run(p.threaded);
  if (p.free.total_ops > 0 || !p.free.errors.empty()) record_run(p.free, "free_");
  if (p.soak.total_ops > 0 || !p.soak.errors.empty()) record_run(p.soak, "soak_");
  record("pressure_calls", static_cast<double>(p.calls()));
  record("pressure_seconds", p.seconds());
  const RunResult& t = p.threaded;
  logger("pressure")->info(
      "pressure applied to {}: {} calls in {:.2f} s by {} threads (warm threaded: {} calls in {:.2f} s, {}; "
      "free-running: {} calls in {:.2f} s, {}; pipelined soak: {} calls in {:.2f} s, {}{}){}",
      t.workload, p.calls(), p.seconds(), t.threads, t.total_ops, t.wall_seconds, explorer_text(t), p.free.total_ops,
      p.free.wall_seconds, explorer_text(p.free), p.soak.total_ops, p.soak.wall_seconds, explorer_text(p.soak),
      p.soak_on_pool_streams ? ", a pool stream per thread" : "",
      p.varied ? fmt::format("; shapes{} and lifetimes varied, seed {}", dtypes_text(t.variety), t.variety.seed) : "");
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
          const VarietySpec variety = probed(*w, base.variety);
          if (variety.on) vary(*w, variety);
          w->prepare(base.threads, 1);
          save_references(file, w->references());
          save_dtypes(file + ".dtypes", variety.dtypes);
        },
        rounds.round_timeout);
    VarietySpec variety = base.variety;
    variety.dtypes = load_dtypes(file + ".dtypes");
    s = run_cold_rounds(rounds, device, [&](int round) {
      auto w = make();
      RunSpec spec = spec_for_round(round);
      spec.variety = variety;
      if (spec.variety.on) vary(*w, spec.variety);
      const HostReferences refs = load_references(file);
      RunResult r = run_cold(*w, spec, &refs);
      return round_reason(r.errors, static_cast<size_t>(r.failed_ops));
    });
    ::unlink(file.c_str());
    ::unlink((file + ".dtypes").c_str());
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
