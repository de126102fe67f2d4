// torchstress_throughput: harness overhead, measured side by side in one process. For one
// workload, thread count and stream/sync policy it runs, alternating: (a) the seed's bare loop
// (threads, the op, the policy's sync; nothing else: no gate, watchdog or checks), (b) the suite's
// runner as the tests run it (every output checked in batches of TORCHSTRESS_CHECK_BATCH),
// (c) the runner checking each op as it completes (batch 1) and (d) the runner with no checks, and
// prints ops/s of (a) and each ratio to it.
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

// The seed's loop: what a user's thread pool does, without the suite: the op and the policy's sync
// (under sync `none`, a stream sync every check_batch ops, as the runner's batch check does).
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
        ++n;
        if (policy.sync != ts::SyncPolicy::kNone) {
          ts::sync_thread_work(w.device(), policy.sync);
        } else if (n % policy.check_batch == 0) {
          ts::sync_thread_work(w.device(), ts::SyncPolicy::kStream);
        }
      }
      ts::sync_thread_work(w.device(), ts::SyncPolicy::kStream);
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

struct Row {
  c10::Device device;
  ts::RunSpec spec;
  ts::Summary bare, batched, eager, unchecked;
  long errors;
};

void print_row(const Args& a, const Row& r) {
  const std::string policy = r.device.is_cuda()
                                 ? fmt::format("{}/{}", ts::to_string(r.spec.cuda_streams), ts::to_string(r.spec.sync))
                                 : fmt::format("sync {}", ts::to_string(r.spec.sync));
  const double b = r.bare.median;
  if (a.json) {
    std::printf(
        "{\"workload\":\"%s\",\"device\":\"%s\",\"hardware\":\"%s\",\"threads\":%ld,\"policy\":\"%s\","
        "\"check_batch\":%d,\"inputs_per_thread\":%d,\"bare_ops_s\":%.1f,\"bare_spread\":%.3f,"
        "\"harness_ops_s\":%.1f,\"harness_spread\":%.3f,\"ratio\":%.3f,\"eager_ops_s\":%.1f,\"eager_ratio\":%.3f,"
        "\"unchecked_ops_s\":%.1f,\"unchecked_ratio\":%.3f,\"harness_errors\":%ld}\n",
        a.workload.c_str(), r.device.str().c_str(), ts::hardware_name(r.device).c_str(), a.threads, policy.c_str(),
        r.spec.check_batch, r.spec.inputs_per_thread, b, r.bare.spread, r.batched.median, r.batched.spread,
        r.batched.median / b, r.eager.median, r.eager.median / b, r.unchecked.median, r.unchecked.median / b, r.errors);
    return;
  }
  std::printf("%-12s %-8s %-20s %7s %12s %14s %7s %8s %9s %7s\n", "workload", "device", "policy", "threads",
              "seed ops/s", "suite ops/s", "ratio", "eager", "no-check", "errors");
  std::printf("%-12s %-8s %-20s %7ld %12.1f %14.1f %7.3f %8.3f %9.3f %7ld\n", a.workload.c_str(),
              r.device.str().c_str(), policy.c_str(), a.threads, b, r.batched.median, r.batched.median / b,
              r.eager.median / b, r.unchecked.median / b, r.errors);
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
  ts::RunSpec spec = ts::run_spec_from_knobs();  // stream, sync and check policy, deadlines
  spec.threads = threads;
  spec.duration = std::chrono::duration<double>(a.seconds);
  spec.keep_prepared = true;
  w->prepare(threads, spec.inputs_per_thread);
  bare_ops_per_second(*w, spec, threads, std::min(1.0, a.seconds));  // warm-up (allocator, kernels, handles)

  // Alternated so drift hits all alike. The no-check run splits the runner's own cost (gate,
  // watchdog, progress) from the value check's.
  const int batch = spec.check_batch;
  std::vector<double> bare, batched, eager, unchecked;
  long errors = 0;
  auto harness = [&](int check_batch, bool check) {
    ts::RunSpec run = spec;
    run.check_batch = check_batch;
    run.check_each_op = check;
    ts::RunResult r = ts::run_workload(*w, run);
    errors += r.failed_ops;
    return r.ops_per_second;
  };
  for (long rep = 0; rep < a.repetitions; ++rep) {
    bare.push_back(bare_ops_per_second(*w, spec, threads, a.seconds));
    batched.push_back(harness(batch, true));
    eager.push_back(harness(1, true));
    unchecked.push_back(harness(batch, false));
  }
  print_row(a, Row{device, spec, ts::summarize(bare), ts::summarize(batched), ts::summarize(eager),
                   ts::summarize(unchecked), errors});
  return errors == 0 ? 0 : 1;
}
