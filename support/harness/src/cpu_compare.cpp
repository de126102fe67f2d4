#include "cpu_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace torchstress {

std::optional<long> count_outside_tolerance_cpu(const at::Tensor& output, const at::Tensor& reference, double allowed) {
  if (!output.device().is_cpu() || !reference.device().is_cpu() || output.scalar_type() != at::kFloat ||
      reference.scalar_type() != at::kFloat || !output.is_contiguous() || !reference.is_contiguous() ||
      output.sizes() != reference.sizes()) {
    return std::nullopt;
  }
  const float* a = output.data_ptr<float>();
  const float* b = reference.data_ptr<float>();
  const auto n = output.numel();
  const auto limit = static_cast<float>(allowed);
  long outside = 0;
  constexpr int64_t kChunk = int64_t{1} << 30;  // an int32 count per chunk vectorises best
  for (int64_t from = 0; from < n; from += kChunk) {
    const int64_t to = std::min(n, from + kChunk);
    int32_t chunk = 0;
    // Compiled with -fopenmp-simd (no OpenMP runtime): `!(d <= limit)` also counts NaN.
#pragma omp simd reduction(+ : chunk)
    for (int64_t i = from; i < to; ++i) chunk += !(std::fabs(a[i] - b[i]) <= limit) ? 1 : 0;
    outside += chunk;
  }
  return outside;
}

}  // namespace torchstress
