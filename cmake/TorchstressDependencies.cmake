# Finds every dependency the suite needs and stops with one clear message naming what to install.
# LibTorch is found only through find_package(Torch): Debian's libtorch-dev, a wheel's prefix
# (CMAKE_PREFIX_PATH), or a fork's build (Torch_DIR).

# --- LibTorch -------------------------------------------------------------------------------
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  # Fallback the user expects: a Python with torch installed carries a LibTorch in its wheel.
  find_program(TORCHSTRESS_PYTHON NAMES python3 python)
  if(TORCHSTRESS_PYTHON)
    execute_process(
      COMMAND "${TORCHSTRESS_PYTHON}" -c "import torch;print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _ts_wheel_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _ts_py_rc ERROR_QUIET)
    if(_ts_py_rc EQUAL 0 AND EXISTS "${_ts_wheel_prefix}")
      message(STATUS "torchstress: no LibTorch on the search path; using the one in "
                     "${TORCHSTRESS_PYTHON}'s torch wheel: ${_ts_wheel_prefix}")
      find_package(Torch QUIET PATHS "${_ts_wheel_prefix}" PATH_SUFFIXES Torch NO_DEFAULT_PATH)
    endif()
  endif()
endif()
if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "torchstress: LibTorch not found. Accepted: Debian/Ubuntu 'apt-get install libtorch-dev' (1.13+), "
    "-DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') for a wheel, "
    "or -DTorch_DIR=<your LibTorch>/share/cmake/Torch for a fork's build.")
endif()

# TorchConfig sets Torch_VERSION only on newer releases; the header is the source of truth.
set(TORCHSTRESS_TORCH_VERSION "${Torch_VERSION}")
foreach(_ts_inc IN LISTS TORCH_INCLUDE_DIRS)
  if(EXISTS "${_ts_inc}/torch/csrc/api/include/torch/version.h")
    file(STRINGS "${_ts_inc}/torch/csrc/api/include/torch/version.h" _ts_ver REGEX "define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
    string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3" TORCHSTRESS_TORCH_VERSION "${_ts_ver}")
  endif()
  if(EXISTS "${_ts_inc}/torch/csrc/api/include/torch/mps.h")
    set(_ts_mps_header "${_ts_inc}/torch/csrc/api/include/torch/mps.h")
  endif()
endforeach()
if(TORCHSTRESS_TORCH_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "torchstress: LibTorch ${TORCHSTRESS_TORCH_VERSION} is too old; accepted: 1.13 through 2.x")
endif()

if(TARGET torch_cuda OR TARGET c10_cuda OR TORCH_CUDA_LIBRARIES)
  set(TORCHSTRESS_HAVE_CUDA ON)
  set(_ts_cuda_why "LibTorch was built with CUDA")
else()
  set(TORCHSTRESS_HAVE_CUDA OFF)
  set(_ts_cuda_why "this LibTorch ships no libtorch_cuda/libc10_cuda")
endif()
if(_ts_mps_header)
  set(TORCHSTRESS_HAVE_MPS_API ON)
  set(_ts_mps_why "torch/mps.h present; MPS runs only where the LibTorch was built for Apple Metal")
else()
  set(TORCHSTRESS_HAVE_MPS_API OFF)
  set(_ts_mps_why "torch/mps.h is missing (it arrived in LibTorch 2.1)")
endif()

# The C++ ABI of LibTorch must match the one GoogleTest and spdlog were built with.
set(TORCHSTRESS_TORCH_CXX11_ABI "unknown")
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
  set(TORCHSTRESS_TORCH_CXX11_ABI "${CMAKE_MATCH_1}")
endif()

message(STATUS "torchstress: LibTorch ${TORCHSTRESS_TORCH_VERSION} from ${Torch_DIR}")
message(STATUS "torchstress:   CUDA compiled in: ${TORCHSTRESS_HAVE_CUDA} (${_ts_cuda_why})")
message(STATUS "torchstress:   MPS API compiled in: ${TORCHSTRESS_HAVE_MPS_API} (${_ts_mps_why})")
message(STATUS "torchstress:   _GLIBCXX_USE_CXX11_ABI=${TORCHSTRESS_TORCH_CXX11_ABI}")

# --- GoogleTest / GoogleMock ------------------------------------------------------------------
find_package(GTest QUIET)
if(NOT GTest_FOUND OR NOT TARGET GTest::gmock)
  message(FATAL_ERROR "torchstress: GoogleTest with GoogleMock not found. Install: "
    "'apt-get install libgtest-dev libgmock-dev' (Debian/Ubuntu) or 'brew install googletest' (macOS).")
endif()
include(GoogleTest)

# --- spdlog / fmt -------------------------------------------------------------------------------
find_package(spdlog QUIET)
if(NOT spdlog_FOUND)
  message(FATAL_ERROR "torchstress: spdlog not found. Install: 'apt-get install libspdlog-dev libfmt-dev' "
    "(Debian/Ubuntu) or 'brew install spdlog' (macOS).")
endif()
find_package(Threads REQUIRED)

include(TorchstressAbiGuard)
