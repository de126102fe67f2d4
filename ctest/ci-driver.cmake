# CI driver for a fork: configure torchstress against a given LibTorch, build, run a label set,
# and leave JUnit XML, the suite's JSON-lines results and the report in one results folder.
#
#   ctest --no-compress-output --output-on-failure -S ctest/ci-driver.cmake -DTORCHSTRESS_TORCH_DIR=/path/to/libtorch/share/cmake/Torch
#   ctest --no-compress-output -S ctest/ci-driver.cmake -DTORCHSTRESS_LABELS="quick;stress" -DTORCHSTRESS_SHARD_INDEX=0 -DTORCHSTRESS_SHARD_COUNT=2
#
# --no-compress-output keeps each test's output readable in the JUnit file (CTest otherwise stores
# it zlib+base64 encoded); --output-on-failure prints a failing test's output in the log.
# Every variable below may be given as -D<VAR>=<value> on the ctest command line or, failing that, as an
# environment variable of the same name. Exit status: non-zero when configure, build or a test failed.
#
#   TORCHSTRESS_SOURCE_DIR        torchstress source tree (default: this script's ../)
#   TORCHSTRESS_BUILD_DIR         build tree, reused between runs (default: <source>/build-ci)
#   TORCHSTRESS_TORCH_DIR         LibTorch's CMake package folder, passed as -DTorch_DIR
#                                 (<libtorch>/share/cmake/Torch; a fork's build: <build>/ or torch/share/cmake/Torch)
#   CMAKE_PREFIX_PATH             passed through as -DCMAKE_PREFIX_PATH, e.g. a wheel's
#                                 $(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
#   TORCHSTRESS_BUILD_TYPE        CMAKE_BUILD_TYPE (default: Release)
#   TORCHSTRESS_GENERATOR         CMake generator (default: Ninja when on PATH, else Unix Makefiles)
#   TORCHSTRESS_CONFIGURE_OPTIONS extra configure arguments, a list: "-DTORCHSTRESS_WARNINGS_AS_ERRORS=ON;-DX=Y"
#   TORCHSTRESS_JOBS              build parallelism (default: 2)
#   TORCHSTRESS_TEST_JOBS         ctest parallelism (default: TORCHSTRESS_JOBS)
#   TORCHSTRESS_LABELS            label set to run, a list; a test runs if it has any of them (default: quick)
#   TORCHSTRESS_EXCLUDE_LABELS    labels to leave out, a list (default: none)
#   TORCHSTRESS_SHARD_INDEX       with TORCHSTRESS_SHARD_COUNT: run every COUNT-th test starting at
#   TORCHSTRESS_SHARD_COUNT       INDEX (0-based), i.e. `ctest -I INDEX+1,,COUNT`; the shards together
#                                 run each selected test exactly once (default: no sharding)
#   TORCHSTRESS_RESOURCE_SPEC_FILE  CTest resource spec (one GPU per test on multi-GPU runners)
#   TORCHSTRESS_RESULTS_DIR       results folder (default: <build>/ci-results); it receives
#                                   ctest-junit.xml       one <testcase> per CTest test (gtest case)
#                                   *.jsonl               the suite's own results (TORCHSTRESS_RESULTS_DIR knob)
#                                   report/               torchstress_report's report.md, report.json, chart.svg
#   TORCHSTRESS_FRESH             ON: empty the build tree first (default: OFF, incremental)
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
ts_default(TORCHSTRESS_RESULTS_DIR "${TORCHSTRESS_BUILD_DIR}/ci-results")
get_filename_component(TORCHSTRESS_RESULTS_DIR "${TORCHSTRESS_RESULTS_DIR}" ABSOLUTE)

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
# Results of an earlier run in the same folder would be counted again by the report.
file(REMOVE_RECURSE "${TORCHSTRESS_RESULTS_DIR}")
file(MAKE_DIRECTORY "${TORCHSTRESS_BUILD_DIR}" "${TORCHSTRESS_RESULTS_DIR}")

message("torchstress ci-driver: source ${TORCHSTRESS_SOURCE_DIR}, build ${TORCHSTRESS_BUILD_DIR}, "
               "labels ${TORCHSTRESS_LABELS}, results ${TORCHSTRESS_RESULTS_DIR}")
ctest_start(Experimental)

# --- configure ----------------------------------------------------------------------------------
set(_ts_options "-DCMAKE_BUILD_TYPE=${TORCHSTRESS_BUILD_TYPE}")
if(TORCHSTRESS_TORCH_DIR)
  list(APPEND _ts_options "-DTorch_DIR=${TORCHSTRESS_TORCH_DIR}")
endif()
if(CMAKE_PREFIX_PATH)
  string(REPLACE ";" "\\;" _ts_prefix "${CMAKE_PREFIX_PATH}")   # one argument, even when a list
  list(APPEND _ts_options "-DCMAKE_PREFIX_PATH=${_ts_prefix}")
endif()
list(APPEND _ts_options ${TORCHSTRESS_CONFIGURE_OPTIONS})
ctest_configure(OPTIONS "${_ts_options}" RETURN_VALUE _ts_configure_rc CAPTURE_CMAKE_ERROR _ts_configure_err)
if(NOT _ts_configure_rc EQUAL 0 OR _ts_configure_err EQUAL -1)
  message(FATAL_ERROR "torchstress ci-driver: configure failed (see the messages above; "
                      "${TORCHSTRESS_BUILD_DIR}/CMakeFiles/CMakeOutput.log and CMakeError.log)")
endif()

# --- build --------------------------------------------------------------------------------------
ctest_build(PARALLEL_LEVEL ${TORCHSTRESS_JOBS} RETURN_VALUE _ts_build_rc NUMBER_ERRORS _ts_build_errors
            CAPTURE_CMAKE_ERROR _ts_build_err)
if(NOT _ts_build_rc EQUAL 0 OR _ts_build_errors GREATER 0 OR _ts_build_err EQUAL -1)
  message(FATAL_ERROR "torchstress ci-driver: build failed (${_ts_build_errors} error(s); see above)")
endif()

# --- test ---------------------------------------------------------------------------------------
# The tests append their JSON lines here (the RESULTS_DIR knob), beside CTest's JUnit file.
set(ENV{TORCHSTRESS_RESULTS_DIR} "${TORCHSTRESS_RESULTS_DIR}")
# GoogleTest sharding variables would make each CTest test (one gtest case) skip or run silently
# depending on its index; CTest-level sharding below is the one that partitions the list.
unset(ENV{GTEST_TOTAL_SHARDS})
unset(ENV{GTEST_SHARD_INDEX})
set(_ts_test_args PARALLEL_LEVEL ${TORCHSTRESS_TEST_JOBS} OUTPUT_JUNIT "${TORCHSTRESS_RESULTS_DIR}/ctest-junit.xml")
list(JOIN TORCHSTRESS_LABELS "|" _ts_include)
list(APPEND _ts_test_args INCLUDE_LABEL "^(${_ts_include})$")
if(TORCHSTRESS_EXCLUDE_LABELS)
  list(JOIN TORCHSTRESS_EXCLUDE_LABELS "|" _ts_exclude)
  list(APPEND _ts_test_args EXCLUDE_LABEL "^(${_ts_exclude})$")
endif()
if(NOT TORCHSTRESS_SHARD_COUNT STREQUAL "")
  if(NOT TORCHSTRESS_SHARD_INDEX MATCHES "^[0-9]+$" OR NOT TORCHSTRESS_SHARD_COUNT MATCHES "^[1-9][0-9]*$"
     OR NOT TORCHSTRESS_SHARD_INDEX LESS TORCHSTRESS_SHARD_COUNT)
    message(FATAL_ERROR "torchstress ci-driver: TORCHSTRESS_SHARD_INDEX='${TORCHSTRESS_SHARD_INDEX}' and "
      "TORCHSTRESS_SHARD_COUNT='${TORCHSTRESS_SHARD_COUNT}': accepted are 0 <= INDEX < COUNT")
  endif()
  math(EXPR _ts_start "${TORCHSTRESS_SHARD_INDEX} + 1")
  list(APPEND _ts_test_args START ${_ts_start} STRIDE ${TORCHSTRESS_SHARD_COUNT})
  message("torchstress ci-driver: shard ${TORCHSTRESS_SHARD_INDEX} of ${TORCHSTRESS_SHARD_COUNT} (ctest -I ${_ts_start},,${TORCHSTRESS_SHARD_COUNT})")
endif()
if(TORCHSTRESS_RESOURCE_SPEC_FILE)
  list(APPEND _ts_test_args RESOURCE_SPEC_FILE "${TORCHSTRESS_RESOURCE_SPEC_FILE}")
endif()
ctest_test(${_ts_test_args} RETURN_VALUE _ts_test_rc CAPTURE_CMAKE_ERROR _ts_test_err)

# --- report -------------------------------------------------------------------------------------
# tools/report's torchstress_report, when this build has it; the results stay usable without it.
set(_ts_report "")
foreach(_ts_cand "${TORCHSTRESS_BUILD_DIR}/tools/report/torchstress_report"
                 "${TORCHSTRESS_BUILD_DIR}/tools/report/${TORCHSTRESS_BUILD_TYPE}/torchstress_report"
                 "${TORCHSTRESS_BUILD_DIR}/bin/torchstress_report")
  if(NOT _ts_report AND EXISTS "${_ts_cand}" AND NOT IS_DIRECTORY "${_ts_cand}")
    set(_ts_report "${_ts_cand}")
  endif()
endforeach()
set(_ts_report_failed OFF)
if(_ts_report)
  execute_process(COMMAND "${_ts_report}" --results "${TORCHSTRESS_RESULTS_DIR}" --out "${TORCHSTRESS_RESULTS_DIR}/report"
                  RESULT_VARIABLE _ts_report_rc)
  if(_ts_report_rc EQUAL 0)
    message("torchstress ci-driver: report in ${TORCHSTRESS_RESULTS_DIR}/report")
  else()
    set(_ts_report_failed ON)
    message(WARNING "torchstress ci-driver: ${_ts_report} exited with ${_ts_report_rc}")
  endif()
else()
  message("torchstress ci-driver: note: no torchstress_report in this build (tools/report has no "
                 "target yet); the results are in ${TORCHSTRESS_RESULTS_DIR} without a report")
endif()

# A label set that selects nothing is a CI misconfiguration, not a pass.
set(_ts_junit_tests 0)
if(EXISTS "${TORCHSTRESS_RESULTS_DIR}/ctest-junit.xml")
  file(READ "${TORCHSTRESS_RESULTS_DIR}/ctest-junit.xml" _ts_junit LIMIT 4096)
  if(_ts_junit MATCHES "<testsuite[^>]*[ \t\r\n]tests=\"([0-9]+)\"")
    set(_ts_junit_tests "${CMAKE_MATCH_1}")
  endif()
endif()
message("torchstress ci-driver: ${_ts_junit_tests} test(s); JUnit ${TORCHSTRESS_RESULTS_DIR}/ctest-junit.xml")
if(NOT _ts_test_rc EQUAL 0 OR _ts_test_err EQUAL -1)
  message(FATAL_ERROR "torchstress ci-driver: tests failed (ctest code ${_ts_test_rc}); see the output above and the JUnit file")
endif()
if(_ts_junit_tests EQUAL 0)
  message(FATAL_ERROR "torchstress ci-driver: no test matched labels '${TORCHSTRESS_LABELS}'"
                      " (accepted: quick, stress, soak, isolation, bench, regression, selftest)")
endif()
if(_ts_report_failed)
  message(FATAL_ERROR "torchstress ci-driver: the tests passed but the report tool failed")
endif()
