// The seed's "Quick Soak Test": 8 threads of `matmul128` for 60 s with a sync after each op, every
// result checked, a progress line every 10 s. TORCHSTRESS_WORKLOAD soaks any other workload,
// a registered op included (op:<ns>::<op>). EightThreadsShort runs the same code for a few
// seconds in the quick tier so the soak never rots.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "torchstress/results.h"
#include "torchstress/device.h"
#include "torchstress/knobs.h"
#include "torchstress/log.h"
#include "torchstress/matchers.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/skip.h"

namespace torchstress {
namespace {

TORCHSTRESS_SECTION(Soak, soak);

void RunSoak(RunSpec spec, std::chrono::duration<double> duration) {
  auto w = make_workload(knobs().workload, device_under_test());
  spec.duration = duration;
  // Noise half the time: in the quiet half the threads run as the seed's loop did, preempted by
  // the OS inside ops, which pauses at op boundaries make rare (run_spec.h, NoiseSpec).
  spec.noise.quiet_period = std::chrono::milliseconds(500);
  spec.on_progress = [](const Progress& p) {
    logger("soak")->info("elapsed {:.0f} s, {} ops, {:.1f} ops/s now, {} errors", p.elapsed_s, p.ops,
                         p.current_ops_per_s, p.errors);
  };
  logger("soak")->info("soaking {} threads of {} on {} for {:.0f} s", spec.threads, w->name(),
                       device_label(device_under_test()), duration.count());
  RunResult r = run_workload(*w, spec);
  record_run(r);
  logger("soak")->info("done: {} ops in {:.1f} s = {:.1f} ops/s, {} errors, per-thread ops min {} max {}", r.total_ops,
                       r.wall_seconds, r.ops_per_second, r.failed_ops, r.min_thread_ops(), r.max_thread_ops());
  EXPECT_GT(r.min_thread_ops(), 0) << "a thread made no progress at all (starved)";
  EXPECT_THAT(r.errors, HasNoErrors());
}

// On CUDA the default soak uses the stream policy knob (default: one shared default stream, as a
// thread pool that never touches streams runs); this variant soaks the other common setup, a pool
// stream per worker, so a release gate covers both.
TEST(Soak, EightThreads60s) { RunSoak(run_spec_from_knobs(), knobs().soak_seconds); }
TEST(Soak, EightThreads60sPoolStreamPerThread) {
  if (!device_under_test().is_cuda()) {
    TORCHSTRESS_SKIP_BACKEND("cuda", "stream policies apply to CUDA only; the device under test is " +
                                         device_label(device_under_test()));
  }
  RunSpec spec = run_spec_from_knobs();
  spec.cuda_streams = StreamPolicy::kPerThread;
  RunSoak(spec, knobs().soak_seconds);
}
TEST(Soak, EightThreadsShort) { RunSoak(run_spec_from_knobs(), knobs().soak_short_seconds); }

// Pipelined submission, the pattern of most upstream repros: ops issued back to back with no sync,
// every CHECK_BATCH ops one sync and the check of all of them.
RunSpec Pipelined() {
  RunSpec spec = run_spec_from_knobs();
  spec.sync = SyncPolicy::kNone;
  return spec;
}
TEST(Soak, EightThreads60sPipelined) { RunSoak(Pipelined(), knobs().soak_seconds); }
TEST(Soak, EightThreadsShortPipelined) { RunSoak(Pipelined(), knobs().soak_short_seconds); }

}  // namespace
}  // namespace torchstress
