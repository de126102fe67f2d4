#include "torchstress/runner.h"

#include <c10/core/GradMode.h>
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "torchstress/device_sync.h"
#include "torchstress/fault_injection.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
#include "torchstress/progress.h"
#include "torchstress/results.h"
#include "torchstress/start_gate.h"
#include "torchstress/warning_capture.h"

namespace torchstress {
namespace {

void record_exception(ErrorSink& sink, int thread, long iteration, const char* op, const std::string& device,
                      std::string message, std::string backtrace) {
  ErrorRecord e;
  e.kind = ErrorKind::kException;
  e.thread = thread;
  e.iteration = iteration;
  e.op = op;
  e.device = device;
  const auto newline = message.find('\n');
  if (newline != std::string::npos) message.resize(newline);
  e.message = std::move(message);
  e.backtrace = std::move(backtrace);
  sink.add(std::move(e));
}

// Records the exception being handled: a c10::Error's message without its backtrace (kept apart).
void record_current_exception(ErrorSink& sink, int thread, long iteration, const char* op, const std::string& device) {
  try {
    throw;
  } catch (const c10::Error& e) {
    const std::string what = e.what();
    const std::string msg = e.what_without_backtrace();
    record_exception(sink, thread, iteration, op, device, msg, what.size() > msg.size() ? what.substr(msg.size()) : "");
  } catch (const std::exception& e) {
    record_exception(sink, thread, iteration, op, device, e.what(), "");
  }
}

// One worker's life: stream scope, warning capture, gate, loop, each op checked.
void worker(int t, Workload& w, const RunSpec& spec, StartGate& gate, ProgressBoard& board, ErrorSink& sink,
            const std::atomic<bool>& stop, std::vector<long>& ops, std::atomic<long>& failed) {
  const c10::Device device = w.device_of(t);
  const std::string dev = device.str();
  std::atomic<long> iteration{-1};
  long done = 0;
  try {
    WorkerStreamScope stream(device);
    ScopedWarningCapture warnings(sink, t, &iteration);
    c10::NoGradGuard no_grad;
    if (!gate.arrive_and_wait(t)) {
      board.done(t);
      return;
    }
    const bool timed = spec.duration.count() > 0;
    for (long i = 0; timed ? !stop.load(std::memory_order_relaxed) : i < spec.iterations; ++i) {
      iteration.store(i, std::memory_order_relaxed);
      board.begin(t, i, w.name());
      ++done;
      bool ok = true;
      try {
        inject_before_op(t, i);
        at::Tensor out = w.run_once(t);
        out = inject_after_op(t, i, out);
        if (spec.sync_each_op && !(spec.check_each_op && host_read_syncs_thread_work(device))) {
          sync_thread_work(device);
        }
        if (spec.check_each_op) {
          if (auto err = w.check(t, out)) {
            err->thread = t;
            err->iteration = i;
            err->op = w.name();
            err->device = dev;
            sink.add(std::move(*err));
            ok = false;
          }
        }
      } catch (const std::exception&) {
        record_current_exception(sink, t, i, w.name(), dev);
        ok = false;
      }
      if (!ok) failed.fetch_add(1);
      board.finish_op(t);
    }
    if (!spec.sync_each_op) sync_thread_work(device);
  } catch (const std::exception& e) {
    record_exception(sink, t, iteration.load(), "worker setup", dev, e.what(), "");
    gate.break_gate(fmt::format("thread {} failed before starting: {}", t, e.what()));
  }
  ops[static_cast<size_t>(t)] = done;
  board.done(t);
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
  w.prepare(spec.threads);
  const std::string test = current_test_name();
  ErrorSink sink;
  ProgressBoard board(spec.threads);
  StartGate gate(spec.threads, knobs().gate_timeout);
  std::atomic<bool> stop{false};
  std::atomic<long> failed{0};
  std::vector<long> ops(static_cast<size_t>(spec.threads), 0);
  std::vector<std::thread> threads;

  RunResult r;
  r.workload = w.name();
  r.device = w.device().str();
  r.threads = spec.threads;
  {
    Watchdog watchdog(board, knobs().stall, test.empty() ? std::string(w.name()) : test);
    GateBreaker breaker(gate);
    for (int t = 0; t < spec.threads; ++t) {
      threads.emplace_back(worker, t, std::ref(w), std::cref(spec), std::ref(gate), std::ref(board), std::ref(sink),
                           std::cref(stop), std::ref(ops), std::ref(failed));
    }
    std::string missing;
    const bool opened = gate.open_when_all_arrived(&missing);
    breaker.disarm();
    const auto start = opened ? gate.opened_at() : std::chrono::steady_clock::now();
    if (!opened) {
      ErrorRecord e;
      e.kind = ErrorKind::kGate;
      e.message = missing;
      sink.add(e);
    } else if (spec.duration.count() > 0) {
      // Timed run: the main thread sleeps in progress intervals, then tells workers to stop.
      const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(spec.duration);
      auto last_t = start;
      long last_ops = 0;
      while (std::chrono::steady_clock::now() < end) {
        auto next = end;
        if (spec.progress_interval.count() > 0) {
          next = std::min(
              end, last_t + std::chrono::duration_cast<std::chrono::steady_clock::duration>(spec.progress_interval));
        }
        std::this_thread::sleep_until(next);
        if (spec.on_progress && next != end) {
          const auto now = std::chrono::steady_clock::now();
          const long ops_now = board.total_completed();
          spec.on_progress({std::chrono::duration<double>(now - start).count(), ops_now,
                            (ops_now - last_ops) / std::chrono::duration<double>(now - last_t).count(),
                            sink.total_errors()});
          last_t = now;
          last_ops = ops_now;
        }
      }
      stop.store(true);
    }
    for (auto& th : threads) th.join();
    r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  r.ops_per_thread = ops;
  for (long n : ops) r.total_ops += n;
  r.failed_ops = failed.load();
  r.ops_per_second = r.wall_seconds > 0 ? r.total_ops / r.wall_seconds : 0.0;
  r.errors = sink.errors();
  r.error_counts = sink.counts_by_kind();
  r.warnings = sink.warnings();
  for (const auto& wr : r.warnings) {
    logger("runner")->warn("c10 warning in thread {}, iteration {}: {}", wr.thread, wr.iteration, wr.message);
  }
  return r;
}

std::vector<ErrorRecord> run_once_released_together(int threads, const std::string& op, const c10::Device& device,
                                                    const std::function<void(int thread, ErrorSink& sink)>& work) {
  const std::string test = current_test_name();
  ErrorSink sink;
  ProgressBoard board(threads);
  StartGate gate(threads, knobs().gate_timeout);
  std::vector<std::thread> workers;
  {
    Watchdog watchdog(board, knobs().stall, test.empty() ? op : test);
    GateBreaker breaker(gate);
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        if (gate.arrive_and_wait(t)) {
          board.begin(t, 0, op.c_str());
          try {
            work(t, sink);
          } catch (const std::exception&) {
            record_current_exception(sink, t, 0, op.c_str(), device.str());
          }
          board.finish_op(t);
        }
        board.done(t);
      });
    }
    std::string missing;
    const bool opened = gate.open_when_all_arrived(&missing);
    breaker.disarm();
    if (!opened) {
      ErrorRecord e;
      e.kind = ErrorKind::kGate;
      e.op = op;
      e.message = missing;
      sink.add(std::move(e));
    }
    for (auto& w : workers) w.join();
  }
  return sink.errors();
}

void record_run(const RunResult& r, const std::string& prefix) {
  record(prefix + "workload", r.workload);
  record(prefix + "device", r.device);
  record(prefix + "threads", static_cast<double>(r.threads));
  record(prefix + "total_ops", static_cast<double>(r.total_ops));
  record(prefix + "successes", r.success_ratio());
  record(prefix + "errors", static_cast<double>(r.failed_ops));
  record(prefix + "duration_s", r.wall_seconds);
  record(prefix + "ops_per_s", r.ops_per_second);
  record(prefix + "min_thread_ops", static_cast<double>(r.min_thread_ops()));
  record(prefix + "max_thread_ops", static_cast<double>(r.max_thread_ops()));
  record(prefix + "warnings", static_cast<double>(r.warnings.size()));
  std::string kinds;
  for (const auto& [k, n] : r.error_counts) kinds += fmt::format("{}{}: {}", kinds.empty() ? "" : ", ", k, n);
  record(prefix + "error_kinds", kinds.empty() ? "none" : kinds);
}

}  // namespace torchstress
