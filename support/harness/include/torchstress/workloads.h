// The seed's workloads, defined once and used by every test and benchmark. Each prepares distinct
// inputs per thread and a reference output per thread before workers start (single-threaded, same
// device), cross-checked once against the CPU; every op's output is checked against it.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torchstress/error_sink.h"
#include "torchstress/fault.h"

namespace torchstress {

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-5;
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual const char* name() const = 0;

  // Builds inputs and references for `threads` workers. Throws if the device disagrees with the
  // CPU beyond the cross-check tolerance.
  void prepare(int threads);
  // The two halves of prepare(), for a cold run: inputs only (uploaded, no op run), then, after the
  // workers' first calls, the references (single-threaded, cross-checked against the CPU).
  void prepare_inputs(int threads);
  void compute_references();

  // One op by `thread` (its own input). Returns the output; the runner syncs and checks it.
  virtual at::Tensor run_once(int thread) = 0;

  // nullopt when `output` matches the reference of `thread`; otherwise the error (kind, max abs
  // diff, message) for the runner to complete with thread, iteration and device.
  std::optional<ErrorRecord> check(int thread, const at::Tensor& output) const;

  const c10::Device& device() const { return device_; }

  // Spreads threads over several devices (thread t uses devices[t % n]); call before prepare().
  // Only input-only workloads (mm, matmul128) support it: a module lives on one device.
  virtual void spread_over(std::vector<c10::Device> devices);
  const c10::Device& device_of(int thread) const {
    return thread_devices_.empty() ? device_ : thread_devices_[static_cast<size_t>(thread) % thread_devices_.size()];
  }
  int prepared_threads() const { return static_cast<int>(references_.size()); }
  Tolerance tolerance() const { return tolerance_; }

  // The run's fault injection reaches the inputs here: under `race` stage_input() races (the
  // runner calls this before every run).
  void arm_fault(const FaultSpec& fault) { staging_.arm(fault.kind == FaultKind::kRace); }

 protected:
  Workload(c10::Device device, Tolerance same_device, Tolerance vs_cpu)
      : device_(device), tolerance_(same_device), cpu_tolerance_(vs_cpu) {}

  // Inputs of `thread` (already on the device); made by make_inputs().
  const std::vector<at::Tensor>& inputs(int thread) const { return inputs_[static_cast<size_t>(thread)]; }
  // What run_once() feeds the op: the input itself, or under an armed `race` fault a shared scratch.
  at::Tensor stage_input(const at::Tensor& input) { return staging_.stage(input); }
  // Deterministic per-thread inputs on the CPU.
  virtual std::vector<at::Tensor> make_inputs(int thread) const = 0;
  // The op on the CPU copy of the model, for the cross-check; undefined when there is none.
  virtual at::Tensor run_on_cpu(const std::vector<at::Tensor>& cpu_inputs) = 0;

 private:
  c10::Device device_;
  Tolerance tolerance_;
  Tolerance cpu_tolerance_;
  std::vector<c10::Device> thread_devices_;
  std::vector<std::vector<at::Tensor>> inputs_;
  std::vector<at::Tensor> references_;
  std::vector<double> ref_absmax_;
  mutable std::vector<at::Tensor> diff_scratch_;  // one per thread, each written by its thread only
  RaceStaging staging_;
};

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
