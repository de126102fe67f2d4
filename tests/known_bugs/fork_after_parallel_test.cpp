// Known bug C5: after any multi-threaded op, a fork()ed child hangs in its first parallel region:
// the OpenMP (libgomp) thread team does not survive fork and ATen's OpenMP backend has no
// pthread_atfork handling. pytorch/pytorch#17199, #41197 (open). Every Linux build (the wheels
// bundle libgomp, Debian links the system one). Workaround and negative control:
// at::set_num_threads(1) in the child. Each repro runs in its own fresh process (isolated round),
// which forks the child and gives it KNOWN_BUG_SECONDS before calling it hung.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "known_bug.h"
#include "torchstress/intra_op_threads.h"
#include "torchstress/knobs.h"
#include "torchstress/results.h"
#include "torchstress/subprocess.h"

namespace torchstress::known_bugs {
namespace {

const KnownBug kForkAfterParallel{
    "pytorch/pytorch#17199, #41197 (open)", every_version("every Linux build with the OpenMP backend (open upstream)"),
    "a child fork()ed after a multi-threaded op hangs forever in its first parallel region"};
const KnownBug kForkWithOneThread{
    "control: the workaround of pytorch/pytorch#17199", no_version("none: one intra-op thread in the child"),
    "a child fork()ed after a multi-threaded op that sets at::set_num_threads(1) first finishes its sum"};

constexpr int64_t kElements = 4 << 20;  // 4M floats: large enough for a parallel sum
constexpr int kParentThreads = 2;       // the team the parent starts before fork()

// Why this build cannot show the bug ("" when it can): the hang is libgomp's, on Linux.
std::string not_openmp_linux() {
#ifndef __linux__
  return "fork after parallelism hangs only in Linux builds (libgomp); this is not Linux";
#else
  const std::string info = at::get_parallel_info();
  if (info.find("parallel backend: OpenMP") == std::string::npos)
    return "this LibTorch's intra-op backend is not OpenMP (at::get_parallel_info() names another), the hang is libgomp's";
  return "";
#endif
}

std::string fork_round(bool one_thread_in_child) {
  ScopedIntraOpThreads team(kParentThreads);
  if (at::ones({kElements}, at::kFloat).sum().item<double>() != kElements) return "the parent's sum was wrong";
  const auto deadline = knobs().known_bug_seconds;
  const ForkOutcome f = fork_with_deadline(
      [one_thread_in_child] {
        if (one_thread_in_child) at::set_num_threads(1);
        return at::ones({kElements}, at::kFloat).sum().item<double>() == kElements ? 0 : 1;
      },
      deadline);
  if (f.hung)
    return caught_reason("hang", fmt::format("the forked child's first parallel sum of {} floats had not finished "
                                             "after {:.0f} s (killed)", kElements, deadline.count()));
  if (f.signaled) return fmt::format("the forked child died of {}", signal_name(f.signal));
  if (f.exit_code != 0) return fmt::format("the forked child exited {} (1: a wrong sum)", f.exit_code);
  return "";
}

Observation observe_fork(bool one_thread_in_child) {
  if (const std::string why = not_openmp_linux(); !why.empty()) return Observation::absent(why);
  return observe_in_child([one_thread_in_child](int) { return fork_round(one_thread_in_child); },
                          one_thread_in_child ? "the child with one intra-op thread finished its sum"
                                              : "the forked child finished its parallel sum");
}

TEST(ForkAfterParallel, ChildsFirstParallelRegionHangs) {
  // Pins pytorch/pytorch#17199 / #41197: a 2-thread sum, fork(), then a sum in the child: it hangs.
  const Observation seen = observe_fork(/*one_thread_in_child=*/false);
  if (in_death_test_child()) return;
  TORCHSTRESS_EXPECT_KNOWN_BUG(kForkAfterParallel, seen);
}

TEST(ForkAfterParallel, ChildWithOneIntraOpThreadFinishes) {
  // Negative control of #17199: the documented workaround, at::set_num_threads(1) in the child.
  const Observation seen = observe_fork(/*one_thread_in_child=*/true);
  if (in_death_test_child()) return;
  TORCHSTRESS_EXPECT_KNOWN_BUG(kForkWithOneThread, seen);
}

}  // namespace
}  // namespace torchstress::known_bugs
