# Stops at configure time when LibTorch's libstdc++ ABI differs from GoogleTest's, instead of
# failing at link time with pages of undefined std::string symbols.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU" OR TORCHSTRESS_TORCH_CXX11_ABI STREQUAL "unknown")
  return()
endif()
set(_ts_probe_dir "${PROJECT_BINARY_DIR}/abi-probe")  # never the parent's build root
file(WRITE "${_ts_probe_dir}/probe.cpp" [=[
#include <gtest/gtest.h>
#include <string>
// Links only if gtest's std::string-taking symbols use the same ABI as this TU.
int main(int argc, char** argv) { testing::InitGoogleTest(&argc, argv); return ::testing::internal::GetArgvs().size() == 0; }
]=])
try_compile(_ts_abi_ok
  "${_ts_probe_dir}/build" SOURCES "${_ts_probe_dir}/probe.cpp"
  COMPILE_DEFINITIONS "-D_GLIBCXX_USE_CXX11_ABI=${TORCHSTRESS_TORCH_CXX11_ABI}"
  LINK_LIBRARIES GTest::gtest Threads::Threads
  CXX_STANDARD 17
  NO_CACHE  # decided afresh on every configure, and no cache entry in a parent project
  OUTPUT_VARIABLE _ts_abi_log)
if(NOT _ts_abi_ok)
  message(FATAL_ERROR
    "torchstress: ABI mismatch. LibTorch uses _GLIBCXX_USE_CXX11_ABI=${TORCHSTRESS_TORCH_CXX11_ABI}, "
    "but GoogleTest (${GTest_DIR}) does not link with that setting. Fix: use a LibTorch built with the "
    "other ABI (pre-cxx11 vs cxx11 download), or rebuild GoogleTest and spdlog with "
    "-D_GLIBCXX_USE_CXX11_ABI=${TORCHSTRESS_TORCH_CXX11_ABI}.")
endif()
message(STATUS "torchstress:   GoogleTest links with LibTorch's ABI setting: yes")
