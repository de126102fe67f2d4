// The value oracle: whether an output matches its reference, decided element by element by the
// suite's own C++ on the host, never by ATen kernels running beside the workers (a racy reduction
// must not judge its own result). Device outputs are downloaded first (a copy, no arithmetic).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace torchstress {

// Per element: |out - ref| <= atol + rtol * |ref|. {0, 0} is exact (the default wherever the
// threaded call and its reference run the same kernel on the same device).
struct Tolerance {
  double rtol = 0.0;
  double atol = 0.0;
  bool exact() const { return rtol == 0.0 && atol == 0.0; }
};

// What a comparison found. Equal values pass whatever the tolerance, NaN against NaN included
// (the reference made it too); a NaN or Inf where the reference is finite counts as non-finite.
struct Comparison {
  std::string problem;   // "" or why the tensors cannot be compared (shape, dtype, undefined)
  int64_t numel = 0;     // the output's elements (0 when undefined)
  Tolerance tol;         // what it was judged by
  int64_t outside = 0;   // elements outside their tolerance
  int64_t nonfinite = 0; // of those, NaN/Inf in the output where the reference is finite
  double max_diff = 0.0; // the largest |out - ref| among them (Inf for a non-finite one or a problem)
  int64_t first = -1;    // flat (row-major) index of the first one
  double first_out = 0.0;
  double first_ref = 0.0;
  bool ok() const { return problem.empty() && outside == 0; }
  // "3 of 4096 elements outside rtol 0 atol 0 (first at 17: 0.25 vs 0.5; max |diff| 0.25)"
  std::string describe() const;
};

// Both tensors on the CPU (any strides; float64/32/16, bfloat16, integers, bool); sizes and
// dtypes must match, else `problem` says which differs.
Comparison compare_on_host(const at::Tensor& out, const at::Tensor& ref, Tolerance tol);

// `t` as a host tensor: itself on the CPU, else a downloaded copy.
at::Tensor to_host(const at::Tensor& t);

// `t` on the host for a check that reads it at once: from CUDA through this thread's pinned
// buffer, which the thread's next call overwrites. Pageable downloads are staged by the driver
// and serialise across threads (H200, 2026-12-06: layernorm's checked pace 0.036x a bare loop's).
at::Tensor to_host_staged(const at::Tensor& t);

// A contiguous host copy that owns its memory (a reference that nothing can overwrite).
at::Tensor host_copy(const at::Tensor& t);

// The largest |ref| of a host tensor (as double), by the oracle's own loop.
double host_absmax(const at::Tensor& ref);

}  // namespace torchstress
