# The one pipeline of a run (ctest/verify.sh is a thin front for it, and a fork's CI calls it
# directly): configure torchstress against a given LibTorch, build, check the knobs, run tiers of
# labels one after another, and leave everything in one output folder:
#   <out>/results/*.jsonl   the suite's own results (every test appends as it ends)
#   <out>/junit-<tier>.xml  one JUnit file per tier (one <testcase> per gtest case)
#   <out>/report.md, details.md, report.json, chart.svg, benchmarks.json   torchstress_report
#
#   ctest --no-compress-output --output-on-failure -S ctest/ci-driver.cmake -DTORCHSTRESS_TORCH_DIR=/path/to/libtorch/share/cmake/Torch
#   ctest --no-compress-output -S ctest/ci-driver.cmake -DTORCHSTRESS_LABELS="quick;stress" -DTORCHSTRESS_SHARD_INDEX=0 -DTORCHSTRESS_SHARD_COUNT=2
#
# --no-compress-output keeps each test's output readable in the JUnit file (CTest otherwise stores
# it zlib+base64 encoded); --output-on-failure prints a failing test's output in the log.
# Every variable below may be given as -D<VAR>=<value> on the ctest command line or, failing that, as an
# environment variable of the same name. Exit status: non-zero when configure, build, a test or the
# release gate failed; a line starting "torchstress ci-driver: bad input:" means a knob or argument
# was refused before any test ran (verify.sh turns it into exit code 2).
#
#   TORCHSTRESS_SOURCE_DIR        torchstress source tree (default: this script's ../)
#   TORCHSTRESS_BUILD_DIR         build tree, reused between runs (default: <source>/build-ci)
#   TORCHSTRESS_TORCH_DIR         LibTorch's CMake package folder, passed as -DTorch_DIR
#                                 (<libtorch>/share/cmake/Torch; a fork's build: <build>/ or torch/share/cmake/Torch)
#   TORCHSTRESS_TORCH_PYTHON      a python whose torch wheel provides LibTorch (the presets' venv)
#   CMAKE_PREFIX_PATH             passed through as -DCMAKE_PREFIX_PATH, e.g. a wheel's
#                                 $(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
#   TORCHSTRESS_BUILD_TYPE        CMAKE_BUILD_TYPE (default: Release)
#   TORCHSTRESS_GENERATOR         CMake generator (default: Ninja when on PATH, else Unix Makefiles)
#   TORCHSTRESS_CONFIGURE_OPTIONS extra configure arguments, a list: "-DTORCHSTRESS_WARNINGS_AS_ERRORS=ON;-DX=Y"
#   TORCHSTRESS_JOBS              build parallelism (default: 2)
#   TORCHSTRESS_TEST_JOBS         ctest parallelism of the first tier (default: TORCHSTRESS_JOBS; later
#                                 tiers run one test at a time: soaks and benches measure)
#   TORCHSTRESS_TIERS             tiers run in order, a list of LABEL or LABEL:EXCLUDED, e.g.
#                                 "quick;regression:quick;soak;isolation;bench:quick" (verify.sh's);
#                                 a tier that fails does not stop the next (default: one tier,
#                                 TORCHSTRESS_LABELS minus TORCHSTRESS_EXCLUDE_LABELS)
#   TORCHSTRESS_LABELS            label set of the single tier, a list; a test runs if it has any (default: quick)
#   TORCHSTRESS_EXCLUDE_LABELS    labels to leave out of it, a list (default: none)
#   TORCHSTRESS_SHARD_INDEX       with TORCHSTRESS_SHARD_COUNT: run every COUNT-th test starting at
#   TORCHSTRESS_SHARD_COUNT       INDEX (0-based), i.e. `ctest -I INDEX+1,,COUNT`; the shards together
#                                 run each selected test exactly once (default: no sharding)
#   TORCHSTRESS_RESOURCE_SPEC_FILE  CTest resource spec (one GPU per test on multi-GPU runners)
#   TORCHSTRESS_OUT_DIR           the output folder above (default: <build>/ci-results), emptied first
#   TORCHSTRESS_BASELINE          an earlier report.json: the release gate (a regression, or a test that
#                                 passed there and is now skipped, missing, stalled or incomplete, fails)
#   TORCHSTRESS_FRESH             ON: empty the build tree first (default: OFF, incremental)
# Knobs (TORCHSTRESS_DEVICE, TORCHSTRESS_SOAK_SECONDS, ...) come from the environment as usual; the
# test binary itself validates them once, after the build and before any test.
cmake_minimum_required(VERSION 3.25)

macro(ts_default var default)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    if(DEFINED ENV{${var}} AND NOT "$ENV{${var}}" STREQUAL "")
      set(${var} "$ENV{${var}}")
    else()
      set(${var} "${default}")
    endif()
  endif()
endmacro()

get_filename_component(_ts_here_src "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
ts_default(TORCHSTRESS_SOURCE_DIR "${_ts_here_src}")
ts_default(TORCHSTRESS_BUILD_DIR "${TORCHSTRESS_SOURCE_DIR}/build-ci")
get_filename_component(TORCHSTRESS_SOURCE_DIR "${TORCHSTRESS_SOURCE_DIR}" ABSOLUTE)
get_filename_component(TORCHSTRESS_BUILD_DIR "${TORCHSTRESS_BUILD_DIR}" ABSOLUTE)
ts_default(TORCHSTRESS_TORCH_DIR "")
ts_default(CMAKE_PREFIX_PATH "")
ts_default(TORCHSTRESS_BUILD_TYPE "Release")
# An existing build tree keeps its generator; a new one gets Ninja when there is one.
set(_ts_cached_generator "")
if(EXISTS "${TORCHSTRESS_BUILD_DIR}/CMakeCache.txt")
  file(STRINGS "${TORCHSTRESS_BUILD_DIR}/CMakeCache.txt" _ts_cached_generator REGEX "^CMAKE_GENERATOR:INTERNAL=")
  string(REPLACE "CMAKE_GENERATOR:INTERNAL=" "" _ts_cached_generator "${_ts_cached_generator}")
endif()
find_program(_ts_ninja ninja)
if(_ts_cached_generator)
  ts_default(TORCHSTRESS_GENERATOR "${_ts_cached_generator}")
elseif(_ts_ninja)
  ts_default(TORCHSTRESS_GENERATOR "Ninja")
else()
  ts_default(TORCHSTRESS_GENERATOR "Unix Makefiles")
endif()
ts_default(TORCHSTRESS_CONFIGURE_OPTIONS "")
ts_default(TORCHSTRESS_JOBS 2)
ts_default(TORCHSTRESS_TEST_JOBS "${TORCHSTRESS_JOBS}")
ts_default(TORCHSTRESS_LABELS "quick")
ts_default(TORCHSTRESS_EXCLUDE_LABELS "")
ts_default(TORCHSTRESS_SHARD_INDEX "")
ts_default(TORCHSTRESS_SHARD_COUNT "")
ts_default(TORCHSTRESS_RESOURCE_SPEC_FILE "")
ts_default(TORCHSTRESS_FRESH OFF)
ts_default(TORCHSTRESS_OUT_DIR "${TORCHSTRESS_BUILD_DIR}/ci-results")
get_filename_component(TORCHSTRESS_OUT_DIR "${TORCHSTRESS_OUT_DIR}" ABSOLUTE)
set(TORCHSTRESS_RESULTS_DIR "${TORCHSTRESS_OUT_DIR}/results")
ts_default(TORCHSTRESS_TORCH_PYTHON "")
ts_default(TORCHSTRESS_BASELINE "")
ts_default(TORCHSTRESS_TIERS "")
if(TORCHSTRESS_TIERS STREQUAL "")
  list(JOIN TORCHSTRESS_LABELS "+" _ts_tier)
  if(TORCHSTRESS_EXCLUDE_LABELS)
    list(JOIN TORCHSTRESS_EXCLUDE_LABELS "+" _ts_tier_ex)
    string(APPEND _ts_tier ":${_ts_tier_ex}")
  endif()
  set(TORCHSTRESS_TIERS "${_ts_tier}")
endif()

set(CTEST_SOURCE_DIRECTORY "${TORCHSTRESS_SOURCE_DIR}")
set(CTEST_BINARY_DIRECTORY "${TORCHSTRESS_BUILD_DIR}")
set(CTEST_CMAKE_GENERATOR "${TORCHSTRESS_GENERATOR}")
set(CTEST_CONFIGURATION_TYPE "${TORCHSTRESS_BUILD_TYPE}")
cmake_host_system_information(RESULT _ts_host QUERY HOSTNAME)
ts_default(CTEST_SITE "${_ts_host}")
string(REPLACE ";" "+" _ts_label_name "${TORCHSTRESS_LABELS}")
ts_default(CTEST_BUILD_NAME "torchstress-${_ts_label_name}")

if(TORCHSTRESS_FRESH AND EXISTS "${TORCHSTRESS_BUILD_DIR}/CMakeCache.txt")
  ctest_empty_binary_directory("${TORCHSTRESS_BUILD_DIR}")
endif()
# Results of an earlier run in the same folder would be counted again by the report. (Only what
# this driver writes goes: a caller may be logging into the folder already.)
file(GLOB _ts_old "${TORCHSTRESS_OUT_DIR}/junit-*.xml" "${TORCHSTRESS_OUT_DIR}/report.*" "${TORCHSTRESS_OUT_DIR}/details.md"
                  "${TORCHSTRESS_OUT_DIR}/chart.svg" "${TORCHSTRESS_OUT_DIR}/benchmarks.json")
file(REMOVE_RECURSE "${TORCHSTRESS_RESULTS_DIR}" ${_ts_old})
file(MAKE_DIRECTORY "${TORCHSTRESS_BUILD_DIR}" "${TORCHSTRESS_RESULTS_DIR}")

message("torchstress ci-driver: source ${TORCHSTRESS_SOURCE_DIR}, build ${TORCHSTRESS_BUILD_DIR}, "
               "tiers ${TORCHSTRESS_TIERS}, output ${TORCHSTRESS_OUT_DIR}")
ctest_start(Experimental)

# --- configure ----------------------------------------------------------------------------------
set(_ts_options "-DCMAKE_BUILD_TYPE=${TORCHSTRESS_BUILD_TYPE}")
if(TORCHSTRESS_TORCH_DIR)
  list(APPEND _ts_options "-DTorch_DIR=${TORCHSTRESS_TORCH_DIR}")
endif()
if(NOT "${TORCHSTRESS_TORCH_PYTHON}" STREQUAL "")
  list(APPEND _ts_options "-DTORCHSTRESS_TORCH_PYTHON=${TORCHSTRESS_TORCH_PYTHON}")
endif()
if(CMAKE_PREFIX_PATH)
  string(REPLACE ";" "\\;" _ts_prefix "${CMAKE_PREFIX_PATH}")   # one argument, even when a list
  list(APPEND _ts_options "-DCMAKE_PREFIX_PATH=${_ts_prefix}")
endif()
list(APPEND _ts_options ${TORCHSTRESS_CONFIGURE_OPTIONS})
ctest_configure(OPTIONS "${_ts_options}" RETURN_VALUE _ts_configure_rc CAPTURE_CMAKE_ERROR _ts_configure_err)
if(NOT _ts_configure_rc EQUAL 0 OR _ts_configure_err EQUAL -1)
  # CTest keeps configure's output in its log: show its first error, which names what is missing.
  file(GLOB _ts_configure_logs "${TORCHSTRESS_BUILD_DIR}/Testing/Temporary/LastConfigure*.log")
  foreach(_ts_log IN LISTS _ts_configure_logs)
    file(READ "${_ts_log}" _ts_text)
    if(_ts_text MATCHES "(CMake Error[^\n]*\n(  [^\n]*\n)+)")
      message("${CMAKE_MATCH_1}")
    endif()
  endforeach()
  message(FATAL_ERROR "torchstress ci-driver: configure failed (see the messages above; "
                      "${TORCHSTRESS_BUILD_DIR}/Testing/Temporary/LastConfigure*.log)")
endif()

# --- build --------------------------------------------------------------------------------------
ctest_build(PARALLEL_LEVEL ${TORCHSTRESS_JOBS} RETURN_VALUE _ts_build_rc NUMBER_ERRORS _ts_build_errors
            CAPTURE_CMAKE_ERROR _ts_build_err)
if(NOT _ts_build_rc EQUAL 0 OR _ts_build_errors GREATER 0 OR _ts_build_err EQUAL -1)
  message(FATAL_ERROR "torchstress ci-driver: build failed (${_ts_build_errors} error(s); see above)")
endif()

# --- knobs --------------------------------------------------------------------------------------
# The binary is the one parser of the knobs (durations, devices, ...): a bad value stops here, before
# any test, with its one line. A named device that this machine lacks stops here too.
set(_ts_knob_checker "${TORCHSTRESS_BUILD_DIR}/tests/torchstress_selftest")
if(EXISTS "${_ts_knob_checker}")
  execute_process(COMMAND "${_ts_knob_checker}" --torchstress_print_knobs --torchstress_check_device
                  RESULT_VARIABLE _ts_knob_rc OUTPUT_QUIET ERROR_VARIABLE _ts_knob_err)
  if(NOT _ts_knob_rc EQUAL 0)
    string(STRIP "${_ts_knob_err}" _ts_knob_err)
    message(FATAL_ERROR "torchstress ci-driver: bad input: ${_ts_knob_err}")
  endif()
endif()

# --- tiers --------------------------------------------------------------------------------------
# The tests append their JSON lines here (the RESULTS_DIR knob), beside CTest's JUnit files.
set(ENV{TORCHSTRESS_RESULTS_DIR} "${TORCHSTRESS_RESULTS_DIR}")
# GoogleTest sharding variables would make each CTest test (one gtest case) skip or run silently
# depending on its index; CTest-level sharding below is the one that partitions the list.
unset(ENV{GTEST_TOTAL_SHARDS})
unset(ENV{GTEST_SHARD_INDEX})
include("${CMAKE_CURRENT_LIST_DIR}/ci-driver-steps.cmake")
set(_ts_failed_tiers "")
set(_ts_total_tests 0)
set(_ts_first ON)
foreach(_ts_tier IN LISTS TORCHSTRESS_TIERS)
  ts_run_tier("${_ts_tier}" ${_ts_first} _ts_tier_ok _ts_tier_tests)
  math(EXPR _ts_total_tests "${_ts_total_tests} + ${_ts_tier_tests}")
  if(NOT _ts_tier_ok)
    list(APPEND _ts_failed_tiers "${_ts_tier}")
  endif()
  set(_ts_first OFF)
endforeach()

# --- report and verdict --------------------------------------------------------------------------
ts_write_report(_ts_report_rc)
if(_ts_total_tests EQUAL 0)
  message(FATAL_ERROR "torchstress ci-driver: no test matched tiers '${TORCHSTRESS_TIERS}'"
                      " (labels: quick, stress, soak, isolation, bench, regression, selftest, cpu, cuda, mps, multigpu)")
endif()
if(_ts_failed_tiers)
  message(FATAL_ERROR "torchstress ci-driver: tests failed in tier(s) ${_ts_failed_tiers}; see the output above and the JUnit files")
endif()
if(_ts_report_rc EQUAL 1)
  message(FATAL_ERROR "torchstress ci-driver: the release gate failed against ${TORCHSTRESS_BASELINE} (see the report)")
elseif(NOT _ts_report_rc EQUAL 0)
  message(FATAL_ERROR "torchstress ci-driver: the tests passed but the report tool failed")
endif()
message("torchstress ci-driver: all ${_ts_total_tests} test(s) passed; report ${TORCHSTRESS_OUT_DIR}/report.md")
