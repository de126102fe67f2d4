#include "torchstress/device.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <regex>

#include "torchstress/knobs.h"
#include "torchstress/log.h"

namespace torchstress {

int ctest_allocated_gpu(const char* value) {
  if (value == nullptr) return -1;
  static const std::regex re("id:([0-9]+)");
  std::cmatch m;
  if (!std::regex_search(value, m, re)) return -1;
  return std::stoi(m[1].str());
}

bool backend_required(const std::string& name) {
  const auto& req = knobs().require;
  return std::find(req.begin(), req.end(), name) != req.end();
}

std::string requested_device_problem() {
  const std::string spec = knobs().device_spec;
  if (spec == "auto" || spec == "cpu") return "";
  const auto& a = availability();
  std::string why;
  if (spec == "mps" && !a.mps) why = a.mps_reason;
  if (spec.rfind("cuda", 0) == 0) {
    const int index = spec.size() > 5 ? std::stoi(spec.substr(5)) : 0;
    if (!a.cuda) {
      why = a.cuda_reason;
    } else if (index >= a.cuda_devices) {
      why = fmt::format("this process sees {} CUDA device(s)", a.cuda_devices);
    }
  }
  if (why.empty()) return "";
  const std::string have = a.cuda ? fmt::format("cuda:0..cuda:{}", a.cuda_devices - 1) : (a.mps ? "mps" : "");
  return fmt::format("torchstress: TORCHSTRESS_DEVICE='{}' is not available here ({}); accepted: auto, cpu{}", spec,
                     why, have.empty() ? " (this machine has no CUDA or MPS device)" : ", " + have);
}

c10::Device device_under_test() {
  static std::once_flag once;
  static c10::Device chosen(c10::kCPU);
  std::call_once(once, [] {
    const auto& a = availability();
    std::string spec = knobs().device_spec;
    if (spec == "auto" && a.mps_reported && !a.mps) {
      // Said once, before any test: auto would have picked MPS, and the probe says it cannot run.
      logger("device")->warn("MPS is reported available but not used: {}", a.mps_reason);
    }
    if (spec == "auto") spec = a.mps ? "mps" : (a.cuda ? "cuda" : "cpu");
    if (spec == "cuda") {
      // CTest's resource allocation names the card this test may use; honour it before any CUDA call.
      int allocated = ctest_allocated_gpu(std::getenv("CTEST_RESOURCE_GROUP_0_GPUS"));
      if (allocated >= 0) {
        spec = fmt::format("cuda:{}", allocated);
        logger("device")->info("CTest allocated GPU {} to this test", allocated);
      } else if (std::getenv("CTEST_RESOURCE_GROUP_COUNT") == nullptr) {
        logger("device")->debug("no CTest GPU allocation given; using cuda:0");
      }
    }
    chosen = c10::Device(spec);
  });
  return chosen;
}

c10::Device device_for(Backend backend) {
  switch (backend) {
    case Backend::kMps:
      return c10::Device(c10::kMPS);
    case Backend::kCuda:
      return device_under_test().is_cuda() ? device_under_test() : c10::Device("cuda:0");
    case Backend::kCpu:
      break;
  }
  return c10::Device(c10::kCPU);
}

}  // namespace torchstress
