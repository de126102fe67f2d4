#include "torchstress/runner.h"

#include <c10/core/GradMode.h>
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "torchstress/device_sync.h"
#include "torchstress/fault.h"
#include "torchstress/forked_rounds.h"
#include "torchstress/log.h"
#include "torchstress/pct_schedule.h"
#include "torchstress/progress.h"
#include "torchstress/results_sink.h"
#include "torchstress/schedule_noise.h"
#include "torchstress/start_gate.h"
#include "torchstress/variety.h"
#include "torchstress/warning_capture.h"

namespace torchstress {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kKeepPerKind = 50;  // error records kept per kind; the rest are counted

// What the workers of one run share.
struct Shared {
  Workload& w;
  const RunSpec& spec;
  StartGate& gate;
  ProgressBoard& board;
  ErrorSink& sink;
  const std::atomic<bool>& stop;
  std::vector<long>& ops;
  std::vector<Clock::time_point>& work_end;
  std::atomic<long>& failed;
  PctSchedule& pct;
};

// Checks one output against the reference of its input; records and returns false when it is wrong.
bool check_output(Shared& s, int t, long i, const at::Tensor& out, const std::string& dev) {
  auto err = s.w.check(t, out, static_cast<int>(i % s.w.inputs_per_thread()));
  if (!err) return true;
  err->thread = t;
  err->iteration = i;
  err->op = s.w.name();
  err->device = dev;
  s.sink.add(std::move(*err));
  return false;
}

// A worker's outputs waiting for their batch check: consecutive iterations from `first`, either
// copied into `buffer` (CheckCapture::kCopy) or kept as they are.
struct PendingChecks {
  std::vector<at::Tensor> outputs;
  at::Tensor buffer;  // [check_batch, output shape...]
  int64_t copied = 0;
  long first = 0;
  size_t size() const { return outputs.size() + static_cast<size_t>(copied); }
};

// Records the wrong outputs of one batch (index k is iteration first + k).
void record_wrong(Shared& s, int t, long first, std::vector<std::pair<size_t, ErrorRecord>> wrong,
                  const std::string& dev) {
  for (auto& [k, err] : wrong) {
    err.thread = t;
    err.iteration = first + static_cast<long>(k);
    err.op = s.w.name();
    err.device = dev;
    s.sink.add(std::move(err));
    s.failed.fetch_add(1);
  }
}

// Checks the pending outputs, check_batch at a time (one fused comparison and one host read each),
// recording every wrong one with its own iteration.
void flush_checks(Shared& s, int t, PendingChecks& p, const std::string& dev) {
  const size_t batch = static_cast<size_t>(std::max(1, s.spec.check_batch));
  const int inputs = s.w.inputs_per_thread();
  if (p.copied > 0) {
    s.board.begin(t, p.first + p.copied - 1, "check");
    try {
      record_wrong(s, t, p.first, s.w.check_stacked(t, static_cast<int>(p.first % inputs), p.buffer.narrow(0, 0, p.copied)), dev);
    } catch (const std::exception&) {  // an asynchronous device error surfaces at the batch's read
      record_current_exception(s.sink, t, p.first + p.copied - 1, s.w.name(), dev);
      s.failed.fetch_add(1);
    }
    p.copied = 0;
  }
  for (size_t from = 0; from < p.outputs.size(); from += batch) {
    const std::vector<at::Tensor> chunk(p.outputs.begin() + static_cast<long>(from),
                                        p.outputs.begin() + static_cast<long>(std::min(p.outputs.size(), from + batch)));
    const long first = p.first + static_cast<long>(from);
    s.board.begin(t, first + static_cast<long>(chunk.size()) - 1, "check");
    try {
      record_wrong(s, t, first, s.w.check_batch(t, static_cast<int>(first % inputs), chunk), dev);
    } catch (const std::exception&) {  // an asynchronous device error surfaces at the batch's read
      record_current_exception(s.sink, t, first + static_cast<long>(chunk.size()) - 1, s.w.name(), dev);
      s.failed.fetch_add(1);
    }
  }
  p.outputs.clear();
}

// Holds `out` (iteration i) for the batch check: copied into the worker's batch buffer on the
// caller's stream now, as a consumer would read it, or kept as it is.
void hold_for_check(Shared& s, int t, long i, at::Tensor out, const std::string& dev, PendingChecks& p) {
  const RunSpec& spec = s.spec;
  const bool copy = spec.capture == CheckCapture::kCopy && !spec.defer_checks;
  if (copy && p.copied > 0 && (out.sizes() != p.buffer.sizes().slice(1) || out.dtype() != p.buffer.dtype())) {
    flush_checks(s, t, p, dev);  // the output's shape changed: a batch holds one shape
  }
  if (p.size() == 0) p.first = i;
  if (!copy) {
    p.outputs.push_back(std::move(out));
    return;
  }
  if (!p.buffer.defined() || out.sizes() != p.buffer.sizes().slice(1) || out.dtype() != p.buffer.dtype()) {
    std::vector<int64_t> shape{spec.check_batch};
    shape.insert(shape.end(), out.sizes().begin(), out.sizes().end());
    p.buffer = at::empty(shape, out.options());
  }
  p.buffer.select(0, p.copied++).copy_(out);
}

// One op of the loop: its input, injection, the op, the policy's sync, and its check (at once when
// check_batch is 1, else kept for the batch check).
bool run_one_op(Shared& s, int t, long i, const c10::Device& device, const std::string& dev, PendingChecks& p) {
  const RunSpec& spec = s.spec;
  const bool eager = spec.check_each_op && !spec.defer_checks &&
                     (spec.check_batch <= 1 || (device.is_cpu() && spec.cpu_checks_each_op));
  try {
    s.w.use_input(t, static_cast<int>(i % s.w.inputs_per_thread()));
    inject_before_op(spec.fault, t, i);
    at::Tensor out = s.w.run_once(t);
    out = inject_after_op(spec.fault, t, i, out);
    if (eager && host_read_syncs_thread_work(device, spec.sync)) return check_output(s, t, i, out, dev);
    // The copy (CheckCapture::kCopy) reads the output before the sync, as the check of each op does
    // and as a consumer on the caller's stream would: an output finished late is read too early.
    if (spec.check_each_op && !eager) hold_for_check(s, t, i, out, dev, p);
    sync_thread_work(device, spec.sync);
    if (eager) return check_output(s, t, i, out, dev);
    if (!spec.defer_checks && p.size() >= static_cast<size_t>(spec.check_batch)) flush_checks(s, t, p, dev);
  } catch (const std::exception&) {
    record_current_exception(s.sink, t, i, s.w.name(), dev);
    flush_checks(s, t, p, dev);  // a batch holds consecutive iterations only
    return false;
  }
  return true;
}

// End of a worker: the last batch checked; under sync `none` one sync for what is still in flight
// (the clock stops there); deferred checks (the bench's baseline) only after the clock.
void finish_worker(Shared& s, int t, long done, const c10::Device& device, const std::string& dev, PendingChecks& p) {
  if (!s.spec.defer_checks) flush_checks(s, t, p, dev);
  if (s.spec.sync == SyncPolicy::kNone || s.spec.defer_checks) {
    s.board.begin(t, done, "final sync");
    try {
      sync_thread_work(device, s.spec.sync == SyncPolicy::kNone ? SyncPolicy::kStream : s.spec.sync);
    } catch (const std::exception&) {
      record_current_exception(s.sink, t, done, "final sync", dev);
    }
  }
  s.work_end[static_cast<size_t>(t)] = Clock::now();
  flush_checks(s, t, p, dev);
}

// One worker's life: stream scope, warning capture, gate, loop with schedule noise, every op checked.
void worker(int t, Shared& s) {
  const c10::Device device = s.w.device_of(t);
  const std::string dev = device.str();
  std::atomic<long> iteration{-1};
  long done = 0;
  try {
    WorkerStreamScope stream(device, s.spec.cuda_streams);
    ScopedWarningCapture warnings(s.sink, t, &iteration);
    c10::NoGradGuard no_grad;
    ScheduleNoise noise(s.spec.noise, t, s.spec.threads);
    if (!s.gate.arrive_and_wait(t)) {
      s.board.done(t);
      return;
    }
    PendingChecks pending;
    const bool timed = s.spec.duration.count() > 0;
    for (long i = 0; timed ? !s.stop.load(std::memory_order_relaxed) : i < s.spec.iterations; ++i) {
      iteration.store(i, std::memory_order_relaxed);
      if (i > 0) noise.at_op_boundary();
      s.pct.at_op_boundary(t);  // the first op too: the start gate is a sync point of its own
      s.board.begin(t, i, s.w.name(), i % std::max(1, s.w.inputs_per_thread()));
      ++done;
      if (!run_one_op(s, t, i, device, dev, pending)) s.failed.fetch_add(1);
      s.board.finish_op(t);
    }
    s.pct.leave(t);
    finish_worker(s, t, done, device, dev, pending);
  } catch (const std::exception& e) {
    record_current_exception(s.sink, t, iteration.load(), "worker setup", dev);
    s.gate.break_gate(fmt::format("thread {} failed before starting: {}", t, e.what()));
  }
  s.pct.leave(t);
  s.ops[static_cast<size_t>(t)] = done;
  s.board.done(t);
}

// Timed run: the main thread sleeps in progress intervals, reporting progress, until the end.
void drive_timed_run(const RunSpec& spec, Clock::time_point start, const ProgressBoard& board, const ErrorSink& sink) {
  const auto end = start + std::chrono::duration_cast<Clock::duration>(spec.duration);
  auto last_t = start;
  long last_ops = 0;
  while (Clock::now() < end) {
    if (spec.stop_at_first_error && sink.total_errors() > 0) return;  // caught: no more pressure needed
    auto next = end;
    if (spec.progress_interval.count() > 0) {
      next = std::min(end, last_t + std::chrono::duration_cast<Clock::duration>(spec.progress_interval));
    }
    if (spec.stop_at_first_error) next = std::min(next, Clock::now() + std::chrono::milliseconds(10));
    std::this_thread::sleep_until(next);
    if (spec.on_progress && next != end && spec.progress_interval.count() > 0 &&
        Clock::now() - last_t >= spec.progress_interval) {
      const auto now = Clock::now();
      const long ops_now = board.total_completed();
      spec.on_progress({std::chrono::duration<double>(now - start).count(), ops_now,
                        (ops_now - last_ops) / std::chrono::duration<double>(now - last_t).count(),
                        sink.total_errors()});
      last_t = now;
      last_ops = ops_now;
    }
  }
}

ErrorRecord gate_error(const std::string& op, const std::string& missing) {
  return ErrorRecord::at(ErrorKind::kGate, -1, -1, op, "", missing);
}

// Fills the result's counts and rates from what the workers left.
void collect(RunResult& r, const std::vector<long>& ops, long failed, const ErrorSink& sink) {
  r.ops_per_thread = ops;
  for (long n : ops) r.total_ops += n;
  r.failed_ops = failed;
  r.ops_per_second = r.wall_seconds > 0 ? r.total_ops / r.wall_seconds : 0.0;
  r.errors = sink.errors();
  r.error_counts = sink.counts_by_kind();
  r.warnings = sink.warnings();
  for (const auto& wr : r.warnings) {
    logger("runner")->warn("c10 warning in thread {}, iteration {}: {}", wr.thread, wr.iteration, wr.message);
  }
}

}  // namespace

long RunResult::min_thread_ops() const {
  return ops_per_thread.empty() ? 0 : *std::min_element(ops_per_thread.begin(), ops_per_thread.end());
}
long RunResult::max_thread_ops() const {
  return ops_per_thread.empty() ? 0 : *std::max_element(ops_per_thread.begin(), ops_per_thread.end());
}
std::string RunResult::success_ratio() const { return fmt::format("{}/{}", successes(), total_ops); }

RunResult run_workload(Workload& w, const RunSpec& spec) {
  mark_process_warm();  // a fork of this process would no longer be cold (forked_rounds.h)
  w.arm_fault(spec.fault);
  VarietySpec variety = spec.variety;
  if (!(spec.keep_prepared && w.prepared_threads() >= spec.threads)) {
    if (auto* varied = dynamic_cast<Varied*>(&w)) {
      // This process is warm now: the op may be called to find the dtypes it accepts.
      variety = spec.variety.on && spec.variety.dtypes.empty() ? varied->probed(spec.variety) : spec.variety;
      varied->vary(variety);
    }
    w.prepare(spec.threads, spec.inputs_per_thread);
  }
  if (spec.noise.on()) {
    logger("runner")->info("schedule noise {:.3g}{}, seed {} (thread {} delayed; replay: TORCHSTRESS_NOISE_SEED={})",
                           spec.noise.level,
                           spec.noise.quiet_period.count() > 0
                               ? fmt::format(", off every other {:.2g} s", spec.noise.quiet_period.count())
                               : "",
                           spec.noise.seed, delayed_thread(spec.noise, spec.threads), spec.noise.seed);
  }
  const std::string test = current_test_name();
  const auto n = static_cast<size_t>(spec.threads);
  ErrorSink sink(kKeepPerKind, &spec.results_sink());
  ProgressBoard board(spec.threads);
  StartGate gate(spec.threads, spec.gate_deadline);
  std::atomic<bool> stop{false};
  std::atomic<long> failed{0};
  std::vector<long> ops(n, 0);
  std::vector<Clock::time_point> work_end(n);
  PctSchedule pct(spec.pct, spec.threads);
  if (spec.pct.on()) {
    logger("runner")->info("PCT schedule: depth {}, {} running at once, seed {} (replay: TORCHSTRESS_NOISE_SEED={})",
                           spec.pct.depth, spec.pct.running, spec.pct.seed, spec.pct.seed);
  }
  Shared shared{w, spec, gate, board, sink, stop, ops, work_end, failed, pct};
  std::vector<std::thread> threads;

  RunResult r;
  r.workload = w.name();
  r.device = w.device().str();
  r.threads = spec.threads;
  r.results = spec.results;
  r.noise = spec.noise;
  r.pct = spec.pct;
  r.variety = variety;
  {
    Watchdog watchdog(board, spec.stall_deadline, test.empty() ? std::string(w.name()) : test, spec.results_sink());
    GateBreaker breaker(gate);
    for (int t = 0; t < spec.threads; ++t) threads.emplace_back(worker, t, std::ref(shared));
    std::string missing;
    const bool opened = gate.open_when_all_arrived(&missing);
    breaker.disarm();
    const auto start = opened ? gate.opened_at() : Clock::now();
    if (!opened) sink.add(gate_error("", missing));
    if (opened && spec.duration.count() > 0) {
      drive_timed_run(spec, start, board, sink);
      stop.store(true);
    }
    for (auto& th : threads) th.join();
    auto end = work_end.empty() ? start : *std::max_element(work_end.begin(), work_end.end());
    if (end <= start) end = Clock::now();  // no worker got to the end of its work
    r.wall_seconds = std::chrono::duration<double>(end - start).count();
    if (auto first = sink.first_error_time()) r.first_error_s = std::chrono::duration<double>(*first - start).count();
  }
  collect(r, ops, failed.load(), sink);
  r.pct_epochs = pct.epochs();
  r.pct_changes = pct.change_points_taken();
  return r;
}

std::vector<ErrorRecord> run_once_released_together(const RunSpec& spec, const std::string& op,
                                                    const c10::Device& device,
                                                    const std::function<void(int thread, ErrorSink& sink)>& work) {
  const std::string test = current_test_name();
  ErrorSink sink(kKeepPerKind, &spec.results_sink());
  ProgressBoard board(spec.threads);
  StartGate gate(spec.threads, spec.gate_deadline);
  std::vector<std::thread> workers;
  {
    Watchdog watchdog(board, spec.stall_deadline, test.empty() ? op : test, spec.results_sink());
    GateBreaker breaker(gate);
    for (int t = 0; t < spec.threads; ++t) {
      workers.emplace_back([&, t] {
        if (gate.arrive_and_wait(t)) {
          board.begin(t, 0, op.c_str(), 0);
          try {
            work(t, sink);
          } catch (const std::exception&) {
            record_current_exception(sink, t, 0, op, device.str());
          }
          board.finish_op(t);
        }
        board.done(t);
      });
    }
    std::string missing;
    const bool opened = gate.open_when_all_arrived(&missing);
    breaker.disarm();
    if (!opened) sink.add(gate_error(op, missing));
    for (auto& w : workers) w.join();
  }
  return sink.errors();
}

RunResult run_cold(Workload& w, const RunSpec& spec, const HostReferences* clean_references) {
  w.prepare_inputs(spec.threads);
  const auto n = static_cast<size_t>(spec.threads);
  std::vector<at::Tensor> outputs(n);
  RunResult r;
  r.workload = w.name();
  r.device = w.device().str();
  r.threads = spec.threads;
  r.results = spec.results;
  const auto start = Clock::now();
  r.errors = run_once_released_together(spec, w.name(), w.device(), [&](int t, ErrorSink&) {
    c10::NoGradGuard no_grad;
    WorkerStreamScope stream(w.device_of(t), spec.cuda_streams);
    outputs[static_cast<size_t>(t)] = w.run_once(t);
    sync_thread_work(w.device_of(t), spec.sync);
  });
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // After the cold calls (a reference pass first would warm the caches). Made here, a first-use
  // bug that stays for the process could hide in them: a clean process's are preferred.
  if (clean_references != nullptr) {
    w.adopt_references(*clean_references);
  } else {
    w.compute_references();
  }
  for (int t = 0; t < spec.threads; ++t) {
    const auto& out = outputs[static_cast<size_t>(t)];
    const bool threw = std::any_of(r.errors.begin(), r.errors.end(), [t](const ErrorRecord& e) { return e.thread == t; });
    if (!out.defined() && threw) continue;  // its exception is already recorded
    if (auto e = w.check(t, out)) {  // an undefined output that threw nothing fails here
      e->thread = t;
      e->iteration = 0;
      e->op = w.name();
      e->device = w.device_of(t).str();
      r.errors.push_back(std::move(*e));
    }
  }
  r.ops_per_thread.assign(n, 1);
  r.total_ops = spec.threads;
  for (const auto& e : r.errors) ++r.error_counts[to_string(e.kind)];
  r.failed_ops = static_cast<long>(r.errors.size());
  if (!r.errors.empty()) r.first_error_s = r.wall_seconds;
  return r;
}

void record_run(const RunResult& r, const std::string& prefix) {
  ResultsSink& out = r.results ? *r.results : discarding_sink();
  out.record(prefix + "workload", r.workload);
  out.record(prefix + "device", r.device);
  out.record(prefix + "threads", static_cast<double>(r.threads));
  out.record(prefix + "total_ops", static_cast<double>(r.total_ops));
  out.record(prefix + "successes", static_cast<double>(r.successes()));
  out.attach_errors(r.errors, r.error_counts);
  out.record(prefix + "errors", static_cast<double>(r.failed_ops));
  out.record(prefix + "duration_s", r.wall_seconds);
  if (r.first_error_s >= 0) out.record(prefix + "first_error_s", r.first_error_s);
  if (r.noise.on()) {  // what replays the run's interleaving
    out.record(prefix + "noise_level", r.noise.level);
    out.record(prefix + "noise_seed", std::to_string(r.noise.seed));
    if (r.noise.quiet_period.count() > 0) out.record(prefix + "noise_quiet_period_s", r.noise.quiet_period.count());
  }
  if (r.pct.on()) {
    out.record(prefix + "pct_depth", static_cast<double>(r.pct.depth));
    out.record(prefix + "pct_seed", std::to_string(r.pct.seed));
    out.record(prefix + "pct_epochs", static_cast<double>(r.pct_epochs));
  }
  if (r.variety.on) {
    out.record(prefix + "variety_seed", std::to_string(r.variety.seed));
    if (!r.variety.dtypes.empty()) out.record(prefix + "variety_dtypes", dtype_list_text(r.variety.dtypes));
  }
  out.record(prefix + "ops_per_s", r.ops_per_second);
  out.record(prefix + "min_thread_ops", static_cast<double>(r.min_thread_ops()));
  out.record(prefix + "max_thread_ops", static_cast<double>(r.max_thread_ops()));
  out.record(prefix + "warnings", static_cast<double>(r.warnings.size()));
  std::string kinds;
  for (const auto& [k, n] : r.error_counts) kinds += fmt::format("{}{}: {}", kinds.empty() ? "" : ", ", k, n);
  out.record(prefix + "error_kinds", kinds.empty() ? "none" : kinds);
}

}  // namespace torchstress
