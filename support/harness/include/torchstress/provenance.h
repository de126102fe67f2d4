// Provenance of a run: which LibTorch (version, git hash, BLAS, OpenMP, CUDA/cuDNN), which
// driver, thread pools, compiler and host produced the results, so a report says what it measured.
#pragma once

#include <string>

namespace torchstress {

// A JSON object (text) with torch_version, torch_git, build_type, blas, lapack, openmp, mkldnn,
// cuda_runtime, cudnn, cuda_driver, intra_op_threads, inter_op_threads, compiler, host, os and
// the full show_config; fields LibTorch does not report are left out.
std::string provenance_json();

// Pulls "KEY=value" out of at::show_config()'s build-settings line ("" when absent).
std::string build_setting(const std::string& show_config, const std::string& key);

}  // namespace torchstress
