# Finds every dependency the suite needs and stops with one clear message naming what to install.
# LibTorch is found only through find_package(Torch): Debian's libtorch-dev, a wheel's prefix
# (CMAKE_PREFIX_PATH), or a fork's build (Torch_DIR).

# --- LibTorch -------------------------------------------------------------------------------
# TORCHSTRESS_TORCH_PYTHON: a python whose torch wheel carries the LibTorch to test (the wheel
# presets set it to the venv ctest/bootstrap.sh made). It wins over a system LibTorch.
set(TORCHSTRESS_TORCH_PYTHON "" CACHE FILEPATH "python whose torch wheel provides LibTorch (searched before any other)")

# The LibTorch CMake prefix inside `python`'s torch wheel, or "" when it has none.
function(_ts_wheel_prefix out python)
  execute_process(
    COMMAND "${python}" -c "import torch;print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND EXISTS "${prefix}")
    set(${out} "${prefix}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

if(TORCHSTRESS_TORCH_PYTHON)
  _ts_wheel_prefix(_ts_wheel_prefix "${TORCHSTRESS_TORCH_PYTHON}")
  if(NOT _ts_wheel_prefix)
    message(FATAL_ERROR "torchstress: TORCHSTRESS_TORCH_PYTHON='${TORCHSTRESS_TORCH_PYTHON}' has no torch wheel; "
      "accepted: a python with torch installed (ctest/bootstrap.sh makes one)")
  endif()
  message(STATUS "torchstress: LibTorch from the torch wheel of ${TORCHSTRESS_TORCH_PYTHON}")
  # TorchConfig looks for Caffe2 and its libraries with the default search paths first, so with
  # Debian's libtorch-dev also installed it would mix the two LibTorches. The wheel's prefixes go
  # first on CMAKE_PREFIX_PATH (share/cmake for the configs, the torch folder for lib/).
  get_filename_component(_ts_wheel_root "${_ts_wheel_prefix}/../.." ABSOLUTE)
  set(_ts_saved_prefix_path "${CMAKE_PREFIX_PATH}")
  list(PREPEND CMAKE_PREFIX_PATH "${_ts_wheel_prefix}" "${_ts_wheel_root}")
  find_package(Torch QUIET PATHS "${_ts_wheel_prefix}" PATH_SUFFIXES Torch NO_DEFAULT_PATH)
  set(CMAKE_PREFIX_PATH "${_ts_saved_prefix_path}")
  if(Torch_FOUND AND NOT TORCH_LIBRARY MATCHES "^${_ts_wheel_root}/")
    message(FATAL_ERROR "torchstress: the wheel's TorchConfig picked ${TORCH_LIBRARY}, not the wheel's own "
      "library; accepted: a fresh build folder (a cache made with another LibTorch keeps its paths)")
  endif()
else()
  find_package(Torch QUIET)
endif()
if(NOT Torch_FOUND AND NOT TORCHSTRESS_TORCH_PYTHON)
  # Fallback the user expects: a Python with torch installed carries a LibTorch in its wheel.
  find_program(TORCHSTRESS_PYTHON NAMES python3 python)
  if(TORCHSTRESS_PYTHON)
    _ts_wheel_prefix(_ts_wheel_prefix "${TORCHSTRESS_PYTHON}")
    if(_ts_wheel_prefix)
      message(STATUS "torchstress: no LibTorch on the search path; using the one in "
                     "${TORCHSTRESS_PYTHON}'s torch wheel: ${_ts_wheel_prefix}")
      find_package(Torch QUIET PATHS "${_ts_wheel_prefix}" PATH_SUFFIXES Torch NO_DEFAULT_PATH)
    endif()
  endif()
endif()
if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "torchstress: LibTorch not found. Accepted: ctest/bootstrap.sh then --preset wheel (the PyPI torch wheel), "
    "Debian/Ubuntu 'apt-get install libtorch-dev' (1.13+) with --preset quick-debian, "
    "-DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') for a wheel, "
    "or -DTorch_DIR=<your LibTorch>/share/cmake/Torch for a fork's build.")
endif()

# The version header is the source of truth; its location moved over releases (2.9+ keep the
# numbers in torch/headeronly/version.h), and Torch_VERSION is a fallback.
set(TORCHSTRESS_TORCH_VERSION "")
foreach(_ts_inc IN LISTS TORCH_INCLUDE_DIRS)
  foreach(_ts_cand torch/csrc/api/include/torch/version.h torch/version.h torch/headeronly/version.h)
    if(NOT TORCHSTRESS_TORCH_VERSION AND EXISTS "${_ts_inc}/${_ts_cand}")
      file(STRINGS "${_ts_inc}/${_ts_cand}" _ts_ver REGEX "define TORCH_VERSION_(MAJOR|MINOR|PATCH) +[0-9]")
      if(_ts_ver MATCHES "MAJOR +([0-9]+).*MINOR +([0-9]+).*PATCH +([0-9]+)")
        set(TORCHSTRESS_TORCH_VERSION "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${CMAKE_MATCH_3}")
      endif()
    endif()
  endforeach()
  foreach(_ts_cand torch/csrc/api/include/torch/mps.h torch/mps.h)
    if(EXISTS "${_ts_inc}/${_ts_cand}")
      set(_ts_mps_header "${_ts_inc}/${_ts_cand}")
    endif()
  endforeach()
endforeach()
if(NOT TORCHSTRESS_TORCH_VERSION)
  set(TORCHSTRESS_TORCH_VERSION "${Torch_VERSION}")
endif()
if(NOT TORCHSTRESS_TORCH_VERSION)
  message(WARNING "torchstress: cannot read LibTorch's version from its headers (${TORCH_INCLUDE_DIRS}); assuming 2.x")
  set(TORCHSTRESS_TORCH_VERSION "2.0.0")
endif()
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
if(TORCHSTRESS_HAVE_CUDA)
  message(STATUS "torchstress:   compiled with CUDA (${_ts_cuda_why})")
else()
  message(STATUS "torchstress:   compiled without CUDA because ${_ts_cuda_why}")
endif()
if(TORCHSTRESS_HAVE_MPS_API)
  message(STATUS "torchstress:   compiled with the MPS API (${_ts_mps_why})")
else()
  message(STATUS "torchstress:   compiled without MPS because ${_ts_mps_why}")
endif()
if(TORCHSTRESS_TORCH_CXX11_ABI STREQUAL "unknown")
  message(STATUS "torchstress:   _GLIBCXX_USE_CXX11_ABI not set by TorchConfig (the compiler's default, 1, applies)")
else()
  message(STATUS "torchstress:   _GLIBCXX_USE_CXX11_ABI=${TORCHSTRESS_TORCH_CXX11_ABI}")
endif()

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
find_package(fmt QUIET)
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "torchstress: nlohmann-json 3 not found. Install: 'apt-get install nlohmann-json3-dev' "
    "(Debian/Ubuntu) or 'brew install nlohmann-json' (macOS).")
endif()
find_package(Threads REQUIRED)

# Recent LibTorch wheels ship their own fmt headers (fmt 12 in 2.11) in their include folder, which
# would shadow the system fmt that the system spdlog was built against. A shim folder holding only
# a link to the system fmt, searched first (-I beats -isystem), keeps spdlog and fmt consistent;
# LibTorch's compiled fmt lives in another inline namespace, so both coexist.
set(TORCHSTRESS_FMT_SHIM "")
foreach(_ts_inc IN LISTS TORCH_INCLUDE_DIRS)
  if(EXISTS "${_ts_inc}/fmt/core.h" AND TARGET fmt::fmt)
    get_target_property(_ts_fmt_inc fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
    list(GET _ts_fmt_inc 0 _ts_fmt_inc)
    if(EXISTS "${_ts_fmt_inc}/fmt/core.h" AND NOT _ts_fmt_inc STREQUAL _ts_inc)
      set(TORCHSTRESS_FMT_SHIM "${PROJECT_BINARY_DIR}/fmt-shim")
      file(MAKE_DIRECTORY "${TORCHSTRESS_FMT_SHIM}")
      file(CREATE_LINK "${_ts_fmt_inc}/fmt" "${TORCHSTRESS_FMT_SHIM}/fmt" SYMBOLIC)
      message(STATUS "torchstress:   LibTorch bundles fmt headers; using the system fmt (${_ts_fmt_inc}) that spdlog needs")
    endif()
  endif()
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/TorchstressAbiGuard.cmake)
