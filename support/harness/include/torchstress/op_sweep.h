// The op sweep: ATen (or a user's) operators called generically through the dispatcher, from a
// catalogue of data (tests/sweep/op_catalogue.json): each entry names an op's schema and overload
// and how to build its arguments; each (op, dtype, layout) is one case, run by the usual runner
// (threaded) or cold, every output checked against the single-threaded device result, which is
// cross-checked against the CPU.
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "torchstress/results_schema.h"
#include "torchstress/workloads.h"

namespace torchstress {

// One catalogue entry in one dtype and layout.
struct SweepCase {
  std::string op;        // "aten::index_select"
  std::string overload;  // "" or "Tensor", ...
  Json args;             // argument tokens (tests/sweep/README.md)
  std::vector<int64_t> shape;
  std::string dtype;   // float32 | float64 | float16 | bfloat16 | int64 | int32 | bool
  std::string layout;  // contiguous | transposed | strided
  Tolerance same_device;  // on the devices in tol_devices (every device when it is empty)
  std::vector<std::string> tol_devices;  // "cuda", "mps", "cpu": where the entry's "tol" applies
  Tolerance vs_cpu;
  std::string vs_cpu_values_only;  // why the CPU cross-check compares only the first output, or ""
  Tolerance same_device_on(c10::Device d) const;  // exact on a device "tol" does not name
  std::string since;   // lowest LibTorch version ("2.0"), "" for any
  std::string label;   // the entry's "name", when one op has several entries
  std::string name() const;  // "index_select_float32_contiguous": a gtest and ctest name
};

// gtest prints a parameter with this: the case's name, not its bytes.
inline void PrintTo(const SweepCase& c, std::ostream* os) { *os << c.name(); }

// A catalogue entry the sweep cannot use: what() is one line naming the entry and the problem.
struct CatalogueError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Every case of the catalogue at `path` (entries x dtypes x layouts). Throws CatalogueError for a
// malformed entry; needs no registered op (names are known before libraries load).
std::vector<SweepCase> load_op_catalogue(const std::string& path);

// "" when `c`'s op is registered and its arguments fit its schema, else the problem in one line.
std::string sweep_case_problem(const SweepCase& c);

// True when this LibTorch is older than c.since.
bool too_old_for(const SweepCase& c);

std::unique_ptr<Workload> make_sweep_workload(const SweepCase& c, const c10::Device& device);

// The layout of a sweep workload's packed output (a host float64 tensor): a header
// [count, rank, sizes..., ...], then each output's values from offsets[k].
struct PackedOutputs {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> offsets;  // where output k's values start
  std::vector<int64_t> size_positions;  // where output k's sizes start in the header
};
PackedOutputs packed_outputs_of(const at::Tensor& packed);

}  // namespace torchstress
