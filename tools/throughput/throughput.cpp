// torchstress_throughput: harness overhead, measured side by side in one process. For one
// workload, thread count and stream policy it runs (a) a bare LibTorch loop (threads, the op, a
// sync and one host read per op; no gate, watchdog or checks) and (b) the suite's runner on the
// same op (every output checked), alternating, and prints ops/s of each and their ratio.
//   torchstress_throughput --workload matmul128 --threads 8 --seconds 5 [--repetitions 3] [--json]
// Device and CUDA stream/sync policy come from the usual knobs (TORCHSTRESS_DEVICE, _CUDA_STREAMS, _SYNC).
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/device_sync.h"
#include "torchstress/exit_codes.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/stats.h"

namespace ts = torchstress;

namespace {

struct Args {
  std::string workload = "matmul128";
  long threads = 8;
  double seconds = 5.0;
  long repetitions = 3;
  bool json = false;
};

[[noreturn]] void usage_error(const std::string& line) {
  std::fprintf(stderr, "torchstress_throughput: %s\n", line.c_str());
  std::exit(ts::kExitUsage);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    try {
      if (flag == "--workload") {
        a.workload = value();
      } else if (flag == "--threads") {
        a.threads = ts::parse_count("--threads", value());
      } else if (flag == "--seconds") {
        a.seconds = ts::parse_seconds("--seconds", value()).count();
      } else if (flag == "--repetitions") {
        a.repetitions = ts::parse_count("--repetitions", value());
      } else if (flag == "--json") {
        a.json = true;
      } else {
        usage_error("unknown argument '" + flag +
                    "'; accepted: --workload NAME --threads N --seconds S --repetitions N --json");
      }
    } catch (const ts::KnobError& e) {
      usage_error(e.what());
    }
  }
  return a;
}

// The bare loop: what a user's thread pool does, without the suite.
double bare_ops_per_second(ts::Workload& w, const ts::RunSpec& policy, int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<long> ops{0};
  std::latch ready(threads + 1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ts::WorkerStreamScope stream(w.device(), policy.cuda_streams);
      c10::NoGradGuard no_grad;
      ready.arrive_and_wait();
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        at::Tensor out = w.run_once(t);
        if (!ts::host_read_syncs_thread_work(w.device(), policy.sync)) ts::sync_thread_work(w.device(), policy.sync);
        volatile float host = out.sum().item<float>();  // the host read (and sync) a user's code does
        (void)host;
        ++n;
      }
      ops.fetch_add(n);
    });
  }
  ready.arrive_and_wait();
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& th : pool) th.join();
  return ops.load() / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  ts::init_logging();
  try {
    ts::set_knobs(ts::load_knobs_from_environment());
  } catch (const ts::KnobError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return ts::kExitUsage;
  }
  const c10::Device device = ts::device_under_test();
  std::unique_ptr<ts::Workload> w;
  try {
    w = ts::make_workload(a.workload, device);
  } catch (const std::invalid_argument& e) {
    usage_error(std::string("--workload: ") + e.what());
  }
  const int threads = static_cast<int>(a.threads);
  ts::RunSpec spec = ts::run_spec_from_knobs();  // stream and sync policy, deadlines
  spec.threads = threads;
  spec.duration = std::chrono::duration<double>(a.seconds);
  w->prepare(threads);
  bare_ops_per_second(*w, spec, threads, std::min(1.0, a.seconds));  // warm-up (allocator, kernels, handles)

  // Three ways, alternated so drift hits all alike: the bare loop; the harness as the tests run it
  // (every output checked); the harness with checks off (gate, watchdog, progress, sync only), which
  // splits the runner's own cost from the value check's.
  std::vector<double> bare, harness, unchecked;
  long errors = 0;
  for (long rep = 0; rep < a.repetitions; ++rep) {
    bare.push_back(bare_ops_per_second(*w, spec, threads, a.seconds));
    spec.check_each_op = true;
    ts::RunResult r = ts::run_workload(*w, spec);
    harness.push_back(r.ops_per_second);
    errors += r.failed_ops;
    spec.check_each_op = false;
    unchecked.push_back(ts::run_workload(*w, spec).ops_per_second);
  }
  const auto b = ts::summarize(bare);
  const auto h = ts::summarize(harness);
  const auto u = ts::summarize(unchecked);
  const std::string policy =
      device.is_cuda() ? fmt::format("{}/{}", ts::to_string(spec.cuda_streams), ts::to_string(spec.sync)) : "n/a";
  if (a.json) {
    std::printf(
        "{\"workload\":\"%s\",\"device\":\"%s\",\"hardware\":\"%s\",\"threads\":%d,\"policy\":\"%s\","
        "\"bare_ops_s\":%.1f,\"bare_spread\":%.3f,\"harness_ops_s\":%.1f,\"harness_spread\":%.3f,"
        "\"ratio\":%.3f,\"unchecked_ops_s\":%.1f,\"unchecked_ratio\":%.3f,\"harness_errors\":%ld}\n",
        a.workload.c_str(), device.str().c_str(), ts::hardware_name(device).c_str(), threads, policy.c_str(), b.median,
        b.spread, h.median, h.spread, h.median / b.median, u.median, u.median / b.median, errors);
  } else {
    std::printf("%-12s %-8s %-20s %7s %12s %14s %7s %16s %7s %7s\n", "workload", "device", "policy", "threads",
                "bare ops/s", "harness ops/s", "ratio", "no-check ops/s", "ratio", "errors");
    std::printf("%-12s %-8s %-20s %7d %12.1f %14.1f %7.3f %16.1f %7.3f %7ld\n", a.workload.c_str(),
                device.str().c_str(), policy.c_str(), threads, b.median, h.median, h.median / b.median, u.median,
                u.median / b.median, errors);
  }
  return errors == 0 ? 0 : 1;
}
