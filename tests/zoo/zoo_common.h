// The zoo's shared contract: the input checks and the one formula that every op, buggy or fixed, computes.
//
// Every op of the zoo is `(Tensor x) -> Tensor`. It takes a float32 2-D tensor [rows, cols] and returns
//   y[i][j] = x[i][j] * w[(i + j) % 64] + 1,   where w[k] = 1 + k / 64.
// The multiply and the add are each rounded to float. There is no FMA contraction: the library is compiled
// with -ffp-contract=off, and the CUDA kernels use __fmul_rn and __fadd_rn. So every op's result is
// bit-identical to ATen's `x * w + 1`, and a bug can only show as a difference from that formula.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#if defined(__CUDACC__)
#define TORCHSTRESS_ZOO_HOST_DEVICE __host__ __device__
#else
#define TORCHSTRESS_ZOO_HOST_DEVICE
#endif

namespace torchstress_zoo {

// The weight period: 64 distinct weights. Each is exact in float, since k / 64 needs 6 mantissa bits.
constexpr int64_t kPeriod = 64;
// Ops that keep static buffers size them for this many elements (for example 256 x 256). Every op,
// buggy or fixed, refuses larger inputs with the same clear error, so the twins accept exactly the
// same inputs.
constexpr int64_t kMaxElements = int64_t{1} << 16;

TORCHSTRESS_ZOO_HOST_DEVICE inline float weight(int64_t k) {
  return 1.0f + static_cast<float>(k % kPeriod) / static_cast<float>(kPeriod);
}

// The formula's two roundings, kept apart so that no compiler fuses them into one FMA.
TORCHSTRESS_ZOO_HOST_DEVICE inline float scaled(float x, float w) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(x, w);
#else
  return x * w;
#endif
}
TORCHSTRESS_ZOO_HOST_DEVICE inline float plus_one(float p) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(p, 1.0f);
#else
  return p + 1.0f;
#endif
}

// The formula for element (i, j) of a row-major [rows, cols] tensor, given its flat index n.
TORCHSTRESS_ZOO_HOST_DEVICE inline float formula_at(float x, int64_t n, int64_t cols) {
  return plus_one(scaled(x, weight(n / cols + n % cols)));
}

// Checks the zoo's input contract: float32, 2-D, at most kMaxElements, on `device`. Returns x made
// contiguous. `op` names the op in the error message.
at::Tensor checked_input(const at::Tensor& x, const char* op, c10::DeviceType device);

// y = formula(x) over rows * cols contiguous floats, with the weights taken from `weight()`.
void compute_formula(const float* x, float* y, int64_t rows, int64_t cols);

// The same loop with weights from the caller. `weight_at(i, j)` must return w[(i + j) % 64]; it comes
// from a table or a plan that an op built itself.
template <class WeightAt>
void compute_formula_with(const float* x, float* y, int64_t rows, int64_t cols, const WeightAt& weight_at) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t n = i * cols + j;
      y[n] = plus_one(scaled(x[n], weight_at(i, j)));
    }
  }
}

// A fresh CPU tensor of x's shape, holding formula(x).
at::Tensor formula_output(const at::Tensor& x);

}  // namespace torchstress_zoo
