// The zoo's operator namespace: the schemas of the CPU ops and the helpers they share. The kernels are
// in zoo_cpu_shared_state.cpp and zoo_cpu_locking.cpp. The CUDA ops define their own schemas in
// zoo_ops_cuda.cu, so that they exist only in a build that has them.
#include "zoo_common.h"

#include <string>

#include <ATen/ATen.h>
#include <torch/library.h>

namespace torchstress_zoo {

at::Tensor checked_input(const at::Tensor& x, const char* op, c10::DeviceType device) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "torchstress_zoo::", op, ": expects a float32 tensor, got ",
              x.scalar_type());
  TORCH_CHECK(x.dim() == 2, "torchstress_zoo::", op, ": expects a 2-D tensor [rows, cols], got ", x.dim(), " dims");
  TORCH_CHECK(x.numel() <= kMaxElements, "torchstress_zoo::", op, ": expects at most ", kMaxElements,
              " elements (the size of its static buffers), got ", x.numel());
  TORCH_CHECK(x.device().type() == device, "torchstress_zoo::", op, ": expects a tensor on ", device, ", got ",
              x.device());
  return x.contiguous();
}

void compute_formula(const float* x, float* y, int64_t rows, int64_t cols) {
  compute_formula_with(x, y, rows, cols, [](int64_t i, int64_t j) { return weight(i + j); });
}

at::Tensor formula_output(const at::Tensor& x) {
  at::Tensor y = at::empty_like(x);
  compute_formula(x.data_ptr<float>(), y.data_ptr<float>(), x.size(0), x.size(1));
  return y;
}

}  // namespace torchstress_zoo

// Each bug op `name` has a twin `name_fixed`: the same code path with the bug fixed, and the same result.
TORCH_LIBRARY(torchstress_zoo, m) {
  for (const char* name : {"lazy_table", "static_scratch", "plan_cache", "cached_view", "pooled_buffer", "lock_order",
                           "rare_race", "contended_trylock"}) {
    m.def((std::string(name) + "(Tensor x) -> Tensor").c_str());
    m.def((std::string(name) + "_fixed(Tensor x) -> Tensor").c_str());
  }
}
