// Backends this process can use (CPU, CUDA, MPS), probed once and described for logs and reports;
// which one a run targets is the suite's choice (device.h).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace torchstress {

enum class Backend { kCpu, kCuda, kMps };

struct BackendAvailability {
  bool cpu = true;
  bool cuda = false;
  int cuda_devices = 0;
  bool mps = false;          // usable: reported available AND a probe op on it matched the CPU
  bool mps_reported = false; // torch::mps::is_available() said yes (a VM without Metal may say so too)
  std::string mps_reason;   // why MPS is unavailable (not compiled in, not built for Metal, ...)
  std::string cuda_reason;  // why CUDA is unavailable
};

// Probed once on first call (thread-safe): a fact of the machine, not a setting.
const BackendAvailability& availability();

// Whether `backend` can run here; `reason` is filled when it cannot.
bool backend_available(Backend backend, std::string* reason);

// "cpu", "cuda", "mps": the names TORCHSTRESS_REQUIRE uses.
const char* backend_name(Backend backend);

// "cpu", "cuda:0", "mps".
std::string device_label(const c10::Device& d);

// Human name of the hardware: CPU model, GPU name, "Apple MPS".
std::string hardware_name(const c10::Device& d);

// LibTorch's version as compiled against, e.g. "2.11.0".
std::string torch_version();

// One line per backend, for the start-up log and the report.
std::string inventory_summary();

}  // namespace torchstress
