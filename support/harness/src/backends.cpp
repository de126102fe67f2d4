#include "torchstress/backends.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <fstream>

#include "torchstress/mps_compat.h"

#if TORCHSTRESS_HAVE_CUDA
#include "torchstress/cuda_compat.h"
#endif

namespace torchstress {
namespace {

#if TORCHSTRESS_MPS_API
// Allocates on MPS and runs a small op there, checked against the CPU: "" when it matched, else
// what was seen (the exception's first line, or the difference).
std::string mps_probe() {
  try {
    const at::Tensor x = at::arange(64, at::kFloat).reshape({8, 8}) / 7.0;
    const at::Tensor want = at::mm(x, x) + 1.0;
    const at::Tensor on_mps = x.to(c10::Device(c10::kMPS));
    const at::Tensor got = (at::mm(on_mps, on_mps) + 1.0).to(c10::kCPU);
    torch::mps::synchronize();
    const double diff = (got - want).abs().max().item<double>();
    if (!(diff <= 1e-3 * want.abs().max().item<double>()))
      return fmt::format("8x8 float mm + 1 on mps differs from the CPU by {:.3g}", diff);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return fmt::format("8x8 float mm + 1 on mps threw: {}", what);
  }
  return "";
}
#endif

BackendAvailability probe() {
  BackendAvailability a;
#if TORCHSTRESS_HAVE_CUDA
  try {
    a.cuda_devices = cuda_device_count();
    a.cuda = a.cuda_devices > 0;
    if (!a.cuda) a.cuda_reason = "LibTorch has CUDA but no CUDA device is visible";
  } catch (const std::exception& e) {  // a broken driver or runtime: unavailable, with why
    a.cuda_reason = fmt::format("CUDA failed to initialise: {}", e.what());
    if (const auto nl = a.cuda_reason.find('\n'); nl != std::string::npos) a.cuda_reason.resize(nl);
  }
#else
  a.cuda_reason = "this LibTorch was built without CUDA";
#endif
#if TORCHSTRESS_MPS_API
  a.mps_reported = torch::mps::is_available();
  if (!a.mps_reported) {
    a.mps_reason = "torch::mps::is_available() is false (not an Apple GPU, or LibTorch built without MPS)";
  } else if (const std::string failed = mps_probe(); !failed.empty()) {
    // GitHub-hosted macOS runners (Virtualization.framework VMs) report MPS, then fail the first
    // allocation or compute wrong values: a test must not rely on what is_available() says alone.
    a.mps_reason = "torch::mps::is_available() is true, but a probe op on MPS failed: " + failed;
  } else {
    a.mps = true;
  }
#else
  a.mps_reason = fmt::format("LibTorch {} has no torch/mps.h (MPS C++ API needs 2.1+)", TORCH_VERSION);
#endif
  return a;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

}  // namespace

const BackendAvailability& availability() {
  static const BackendAvailability a = probe();
  return a;
}

bool backend_available(Backend backend, std::string* reason) {
  const auto& a = availability();
  switch (backend) {
    case Backend::kCpu:
      return true;
    case Backend::kCuda:
      if (!a.cuda && reason) *reason = a.cuda_reason;
      return a.cuda;
    case Backend::kMps:
      if (!a.mps && reason) *reason = a.mps_reason;
      return a.mps;
  }
  return false;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kCpu:
      return "cpu";
    case Backend::kCuda:
      return "cuda";
    case Backend::kMps:
      return "mps";
  }
  return "unknown";
}

std::string device_label(const c10::Device& d) { return d.str(); }

std::string hardware_name(const c10::Device& d) {
  if (d.is_cpu()) return cpu_model();
#if TORCHSTRESS_HAVE_CUDA
  if (d.is_cuda()) return cuda_device_name(d.has_index() ? d.index() : 0);
#endif
  if (d.type() == c10::kMPS) return "Apple GPU (MPS)";
  return d.str();
}

std::string torch_version() { return TORCH_VERSION; }

std::string inventory_summary() {
  const auto& a = availability();
  return fmt::format("LibTorch {}; cpu: yes ({}); cuda: {}; mps: {}", TORCH_VERSION, cpu_model(),
                     a.cuda ? fmt::format("yes, {} device(s)", a.cuda_devices) : "no (" + a.cuda_reason + ")",
                     a.mps ? "yes" : "no (" + a.mps_reason + ")");
}

}  // namespace torchstress
