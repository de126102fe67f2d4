// Input variety for workloads whose inputs the harness makes (op:<ns>::<op> and the op sweep):
// the runner hands a run's VarietySpec to any workload that implements Varied before preparing it,
// so shapes (and lifetimes) differ per thread, per input and per run, drawn from the run's seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "torchstress/run_spec.h"

namespace torchstress {

class Varied {
 public:
  virtual ~Varied() = default;
  // Before prepare(): later inputs follow `v` (off: the workload's fixed shapes).
  virtual void vary(const VarietySpec& v) = 0;
  // True when vary() calls the op (to find the shapes it accepts): a cold round must not call it.
  virtual bool vary_calls_op() const { return false; }
  // `v` with the dtypes the op accepts filled in; calls the op (a cold round's process must not:
  // the cold pressure probes in the clean process that makes the references). Default: `v` as is.
  virtual VarietySpec probed(const VarietySpec& v) { return v; }
};

// "float32, bfloat16"; "float32" when none were probed.
std::string dtype_list_text(const std::vector<c10::ScalarType>& dtypes);

// A deterministic draw in [lo, hi] from (seed, a, b, c): the same arguments give the same value on
// every machine (splitmix64), so a logged seed replays every shape.
inline int64_t varied_draw(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, int64_t lo, int64_t hi) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (a + 1) + 0xBF58476D1CE4E5B9ULL * (b + 1) + 0x94D049BB133111EBULL * (c + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return lo + static_cast<int64_t>(z % static_cast<uint64_t>(hi - lo + 1));
}

}  // namespace torchstress
