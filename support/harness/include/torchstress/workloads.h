// The seed's workloads, defined once and used by every test and benchmark. Each prepares several
// distinct inputs per thread, each with its reference output, before workers start (single-threaded,
// same device), cross-checked once against the CPU; every op's output is checked element by element
// against its input's reference by the host oracle (value_oracle.h), exactly unless the workload
// states a tolerance, so a stale, unwritten or another thread's output cannot pass.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "torchstress/error_sink.h"
#include "torchstress/fault.h"
#include "torchstress/value_oracle.h"

namespace torchstress {

class Workload {
 public:
  virtual ~Workload() = default;
  virtual const char* name() const = 0;

  // Builds `inputs_per_thread` inputs and their references for each of `threads` workers. Throws
  // if the device disagrees with the CPU beyond the cross-check tolerance.
  void prepare(int threads, int inputs_per_thread = 1);
  // The two halves of prepare(), for a cold run: inputs only (uploaded, no op run), then, after the
  // workers' first calls, the references (single-threaded, cross-checked against the CPU).
  void prepare_inputs(int threads, int inputs_per_thread = 1);
  void compute_references();

  // References made elsewhere (a clean process, reference_file.h): [thread][input], host tensors.
  // The cold path's oracle: a first-use race that leaves a cache wrong for the whole process
  // cannot also make the reference it is checked against.
  void adopt_references(std::vector<std::vector<at::Tensor>> host_references);
  const std::vector<std::vector<at::Tensor>>& references() const { return references_; }

  // Which of its inputs `thread`'s next run_once() uses (0 until changed; only that thread calls it).
  void use_input(int thread, int input) { current_input_[static_cast<size_t>(thread)] = input; }
  int inputs_per_thread() const { return inputs_.empty() ? 0 : static_cast<int>(inputs_.front().size()); }

  // One op by `thread` (on its current input). Returns the output; the runner syncs and checks it.
  virtual at::Tensor run_once(int thread) = 0;

  // nullopt when `output` matches the reference of `thread`'s input `input` element by element;
  // otherwise the error (kind, max abs diff, message) for the runner to complete with thread,
  // iteration and device. An undefined output is an error.
  std::optional<ErrorRecord> check(int thread, const at::Tensor& output, int input = 0) const;
  // Checks outputs[k], made from input (first_input + k) % inputs_per_thread(), with one download
  // of the batch on an accelerator (the deferred check: its cost is spread over the batch). Returns
  // the index and error of each wrong output.
  std::vector<std::pair<size_t, ErrorRecord>> check_batch(int thread, int first_input,
                                                          const std::vector<at::Tensor>& outputs) const;
  // The same for outputs already stacked along dimension 0 (a worker's batch buffer).
  std::vector<std::pair<size_t, ErrorRecord>> check_stacked(int thread, int first_input, const at::Tensor& stacked) const;

  const c10::Device& device() const { return device_; }
  // True when run_once() returns every output of the op packed into one float64 tensor (the op
  // sweep: packed_outputs_of() in op_sweep.h reads its layout).
  virtual bool packs_outputs() const { return false; }

  // Spreads threads over several devices (thread t uses devices[t % n]); call before prepare().
  // Only input-only workloads (mm, matmul128) support it: a module lives on one device.
  virtual void spread_over(std::vector<c10::Device> devices);
  const c10::Device& device_of(int thread) const {
    return thread_devices_.empty() ? device_ : thread_devices_[static_cast<size_t>(thread) % thread_devices_.size()];
  }
  int prepared_threads() const { return static_cast<int>(references_.size()); }
  Tolerance tolerance() const { return tolerance_; }
  // Throws CannotFailError when every thread's reference is the same tensor: then another thread's
  // output, or a stale one, would pass (prepare() and adopt_references() call it).
  void refuse_if_cannot_fail() const;

  // The run's fault injection reaches the inputs here: under `race` stage_input() races (the
  // runner calls this before every run).
  void arm_fault(const FaultSpec& fault) { staging_.arm(fault.kind == FaultKind::kRace); }

 protected:
  Workload(c10::Device device, Tolerance same_device, Tolerance vs_cpu)
      : device_(device), tolerance_(same_device), cpu_tolerance_(vs_cpu) {}

  // The current inputs of `thread` (already on the device); made by make_inputs().
  const std::vector<at::Tensor>& inputs(int thread) const {
    const auto t = static_cast<size_t>(thread);
    return inputs_[t][static_cast<size_t>(current_input_[t])];
  }
  // Which input `thread` is on (its seed names the input, for an op that draws random numbers).
  int current_input(int thread) const { return current_input_[static_cast<size_t>(thread)]; }
  // What run_once() feeds the op: the input itself, or under an armed `race` fault a shared scratch.
  at::Tensor stage_input(const at::Tensor& input) { return staging_.stage(input); }
  // Deterministic per-thread inputs on the CPU.
  virtual std::vector<at::Tensor> make_inputs(int thread) const = 0;
  // Input `input` of `thread`, input 0 being make_inputs(thread), for a workload whose
  // fresh_inputs() is true; any other workload gets one input per thread.
  virtual bool fresh_inputs() const { return false; }
  virtual std::vector<at::Tensor> make_inputs(int thread, int input) const {
    (void)input;
    return make_inputs(thread);
  }
  // Once, after the references: thread 0's first reference against the CPU's result.
  void cross_check_with_cpu();
  // Non-empty when every thread is meant to produce the same output (a shared state's invariant,
  // a closed form): then refuse_if_cannot_fail() lets it through and logs this reason. The
  // workload's own test must then catch what per-thread references cannot (a lost update, a
  // wrong count), as the regression repros do against their closed forms.
  virtual std::string same_output_for_every_thread() const { return ""; }
  // The op on the CPU copy of the model, for the cross-check; undefined when there is none.
  virtual at::Tensor run_on_cpu(const std::vector<at::Tensor>& cpu_inputs) = 0;
  // The part of a host output the CPU cross-check compares (all of it unless a workload says
  // otherwise, e.g. a sort's indices where ties are ordered differently by each backend).
  virtual at::Tensor comparable_with_cpu(const at::Tensor& host_output) const { return host_output; }

 private:
  c10::Device device_;
  Tolerance tolerance_;
  Tolerance cpu_tolerance_;
  std::vector<c10::Device> thread_devices_;
  // Each thread's data is read and written by that thread only (after prepare).
  std::vector<std::vector<std::vector<at::Tensor>>> inputs_;  // [thread][input] -> op arguments
  std::vector<int> current_input_;
  std::vector<std::vector<at::Tensor>> references_;  // [thread][input], contiguous host copies
  RaceStaging staging_;
};

// A workload whose every thread gets the same reference: its check could not fail.
struct CannotFailError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether `e` is ATen's "... not implemented for 'Half'": no kernel for the dtype on this backend.
bool is_missing_kernel(const std::exception& e);

// Names: mm, matmul128, layernorm, transformer, linear_relu, mlp, or op:<namespace>::<op>[.<overload>]
// (any operator registered with the dispatcher whose schema is (Tensor) -> Tensor, see op_workload.h).
// `batch` applies to mlp (default 1). Throws std::invalid_argument for an unknown name.
inline constexpr const char* kOpPrefix = "op:";
inline constexpr const char* kWorkloadNames =
    "mm, matmul128, layernorm, transformer, linear_relu, mlp, op:<namespace>::<op>[.<overload>]";
std::unique_ptr<Workload> make_workload(const std::string& name, const c10::Device& device, int batch = 1);
std::unique_ptr<Workload> make_op_workload(const std::string& qualified_op, const c10::Device& device);

// "" when make_workload() accepts `name` (an op: name must be registered now, with the schema a
// workload can call), else why not, in one line. Builds nothing.
std::string workload_name_problem(const std::string& name);

}  // namespace torchstress
