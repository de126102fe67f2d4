#include "torchstress/op_library.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <sstream>

#include "torchstress/knobs.h"
#include "torchstress/workloads.h"

namespace torchstress {

std::string load_op_libraries(const std::string& paths) {
  std::stringstream list(paths);
  for (std::string path; std::getline(list, path, ':');) {
    if (path.empty()) continue;
    // RTLD_GLOBAL: the library's ops may call each other's symbols, as in a Python extension.
    if (::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* why = ::dlerror();
      return fmt::format("TORCHSTRESS_OP_LIBRARY='{}' is not accepted: cannot load '{}' ({}); accepted: "
                         "':'-separated paths of shared libraries that register TORCH_LIBRARY ops",
                         paths, path, why ? why : "unknown error");
    }
  }
  return "";
}

std::string workload_knob_problem() {
  const std::string& name = knobs().workload;
  const std::string problem = workload_name_problem(name);
  if (problem.empty()) return "";
  return fmt::format("TORCHSTRESS_WORKLOAD='{}' is not accepted ({}); accepted: {}", name, problem, kWorkloadNames);
}

}  // namespace torchstress
