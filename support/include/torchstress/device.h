// Device under test: which backend the suite exercises (TORCHSTRESS_DEVICE), and which backends
// this process can use at all. Availability is probed once per process and logged.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace torchstress {

enum class Backend { kCpu, kCuda, kMps };

struct BackendAvailability {
  bool cpu = true;
  bool cuda = false;
  int cuda_devices = 0;
  bool mps = false;
  std::string mps_reason;   // why MPS is unavailable (not compiled in, not built for Metal, ...)
  std::string cuda_reason;  // why CUDA is unavailable
};

// Probed once on first call (thread-safe).
const BackendAvailability& availability();

// Resolves the TORCHSTRESS_DEVICE knob (auto: mps, then cuda, then cpu). Under CTest resource
// allocation (CTEST_RESOURCE_GROUP_0_GPUS), cuda picks the allocated card.
c10::Device device_under_test();

// Whether `backend` can run here; `reason` is filled when it cannot.
bool backend_available(Backend backend, std::string* reason);

// "cpu", "cuda", "mps": the names TORCHSTRESS_REQUIRE uses.
const char* backend_name(Backend backend);

// Whether TORCHSTRESS_REQUIRE names `name` (cuda, mps, multigpu): its tests must run, not skip.
bool backend_required(const std::string& name);

// Empty when the device TORCHSTRESS_DEVICE asks for can run here; otherwise the one-line error
// (naming the value and what is accepted) that stops the binary with exit code 2.
std::string requested_device_problem();

// "cpu", "cuda:0", "mps".
std::string device_label(const c10::Device& d);

// Human name of the hardware: CPU model, GPU name, "Apple MPS".
std::string hardware_name(const c10::Device& d);

// LibTorch's version as compiled against, e.g. "2.11.0".
std::string torch_version();

// One line per backend, for the start-up log and the report.
std::string inventory_summary();

// Parses CTEST_RESOURCE_GROUP_0_GPUS ("id:1,slots:1") into a card index; -1 when not set.
int ctest_allocated_gpu(const char* value);

}  // namespace torchstress
