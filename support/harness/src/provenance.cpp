#include "torchstress/provenance.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <sys/utsname.h>
#include <torch/version.h>
#include <unistd.h>

#include <regex>

#include "torchstress/results_schema.h"
#if TORCHSTRESS_HAVE_CUDA
#include "torchstress/cuda_compat.h"
#endif

namespace torchstress {
namespace {

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : "unknown";
}

std::string os_name() {
  struct utsname u {};
  return ::uname(&u) == 0 ? std::string(u.sysname) + " " + u.release + " " + u.machine : "unknown";
}

// Adds `key` only when LibTorch reported it.
void add_if(JsonLine& line, const char* key, const std::string& value) {
  if (!value.empty()) line.add(key, value);
}

}  // namespace

std::string build_setting(const std::string& show_config, const std::string& key) {
  const std::regex re("(^|[ ,:])" + key + "=([^,\\n]*)");
  std::smatch m;
  return std::regex_search(show_config, m, re) ? m[2].str() : "";
}

std::string provenance_json() {
  const std::string config = at::show_config();
  JsonLine p;
  p.add("torch_version", TORCH_VERSION);
  add_if(p, "torch_git", build_setting(config, "COMMIT_SHA"));
  add_if(p, "build_type", build_setting(config, "BUILD_TYPE"));
  add_if(p, "blas", build_setting(config, "BLAS_INFO"));
  add_if(p, "lapack", build_setting(config, "LAPACK_INFO"));
  add_if(p, "openmp", build_setting(config, "USE_OPENMP"));
  add_if(p, "mkldnn", build_setting(config, "USE_MKLDNN"));
  add_if(p, "cuda_runtime", build_setting(config, "CUDA_VERSION"));
  add_if(p, "cudnn", build_setting(config, "CUDNN_VERSION"));
#if TORCHSTRESS_HAVE_CUDA
  p.add("cuda_driver", cuda_driver_version());
#else
  p.add("cuda_driver", "none (LibTorch without CUDA)");
#endif
  p.add("intra_op_threads", static_cast<long long>(at::get_num_threads()));
  p.add("inter_op_threads", static_cast<long long>(at::get_num_interop_threads()));
  p.add("compiler", compiler());
  p.add("host", host_name());
  p.add("os", os_name());
  p.add("show_config", config);
  return p.str();
}

}  // namespace torchstress
