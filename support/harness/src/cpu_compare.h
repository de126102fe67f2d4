// The CPU's value check as one vectorised pass: on the CPU there is no host read to amortise, so
// the check's cost is its memory traffic, and ATen's sub + abs + max takes three passes and three
// dispatches over an output that the op has just left in cache.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

namespace torchstress {

// How many elements of `output` differ from `reference` by more than `allowed` (NaN counts), in one
// pass; nullopt when the fast path does not apply (not both contiguous float32 CPU tensors of one
// shape), and the caller compares with ATen instead.
std::optional<long> count_outside_tolerance_cpu(const at::Tensor& output, const at::Tensor& reference, double allowed);

}  // namespace torchstress
