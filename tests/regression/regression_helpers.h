// Scenario helpers shared by the upstream regression repros: closed-form checks on top of the
// runner, cold one-shot starts through the support start gate, and isolated-round verdicts.
// No concurrency primitive is defined here; everything threads through support/.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "torchstress/device.h"
#include "torchstress/device_sync.h"
#include "torchstress/error_sink.h"
#include "torchstress/isolated_rounds.h"
#include "torchstress/knobs.h"
#include "torchstress/run_spec_from_knobs.h"
#include "torchstress/runner.h"
#include "torchstress/seeded.h"
#include "torchstress/workloads.h"

namespace torchstress::regression {

constexpr uint64_t kSeed = kBaseSeed;

// The upstream repros check an answer known in closed form (a sum, a gradient, a CPU result).
// The runner holds every concurrent op to the single-threaded reference of its thread; the main
// thread then holds that reference to the closed form, so a backend that is wrong even on one
// thread cannot pass by agreeing with itself.
class ClosedFormWorkload : public Workload {
 public:
  // The answer every op of `thread` must give, on the CPU.
  virtual at::Tensor closed_form(int thread) = 0;
  // Threads may share one answer here: RunAgainstClosedForm() holds it to the closed form.
  std::string same_output_for_every_thread() const override { return "held to a closed form"; }

 protected:
  using Workload::Workload;
};

// Runs `w` under `spec`, then compares one single-threaded op per thread with its closed form
// (within `tol`); mismatches join the run's errors as wrong values of op "<name> vs closed form".
inline RunResult RunAgainstClosedForm(ClosedFormWorkload& w, const RunSpec& spec, Tolerance tol) {
  RunResult r = run_workload(w, spec);
  c10::NoGradGuard no_grad;
  for (int t = 0; t < spec.threads; ++t) {
    ErrorRecord e =
        ErrorRecord::at(ErrorKind::kWrongValue, t, -1, std::string(w.name()) + " vs closed form", w.device().str(), "");
    try {
      at::Tensor got = w.run_once(t);
      sync_device(w.device());
      got = got.to(at::kCPU).to(at::kDouble);
      const at::Tensor want = w.closed_form(t).to(at::kDouble);
      if (got.sizes() != want.sizes()) {
        e.message = "shape " + c10::str(got.sizes()) + " differs from the closed form's " + c10::str(want.sizes());
        r.errors.push_back(e);
        continue;
      }
      const double diff = want.numel() == 0 ? 0.0 : (got - want).abs().max().item<double>();
      const double allowed = tol.atol + tol.rtol * (want.numel() == 0 ? 0.0 : want.abs().max().item<double>());
      if (!(diff <= allowed)) {
        e.max_abs_diff = diff;
        e.message = fmt::format("tolerance {:.3g}", allowed);
        r.errors.push_back(e);
      }
    } catch (const std::exception&) {
      r.errors.push_back(current_exception_record(t, -1, e.op, e.device));
    }
  }
  return r;
}

// A wrong-value record for `work` bodies of run_once_released_together().
inline ErrorRecord WrongValue(int thread, const std::string& op, const c10::Device& device, double diff,
                              const std::string& message) {
  ErrorRecord e = ErrorRecord::at(ErrorKind::kWrongValue, thread, 0, op, device.str(), message);
  e.max_abs_diff = diff;
  return e;
}

// An isolated round's one-line verdict: "" when the errors are empty.
inline std::string RoundReason(const std::vector<ErrorRecord>& errors) { return round_reason(errors, errors.size()); }

// Runs `rounds` isolated rounds of `body` (deadline and pass threshold from the knobs) and asserts
// the pass rate, listing every bad round (with its crash signature, when the child's stderr
// matched a known upstream one).
inline void ExpectIsolatedRoundsPass(long rounds, const RoundBody& body) {
  expect_rounds_pass(run_isolated_rounds(rounds_spec_from_knobs(rounds), body));
}

// The knobs' run settings (deadlines, policies, the fault of `round`) for `threads` threads x
// `iterations` (upstream's fixed shape of a repro).
inline RunSpec ReproSpec(int threads, long iterations, int round = 0) {
  RunSpec spec = run_spec_from_knobs(round);
  spec.threads = threads;
  spec.iterations = iterations;
  return spec;
}

}  // namespace torchstress::regression
