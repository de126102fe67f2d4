# Test registration: one CTest test per gtest case (discovered when ctest runs), each with a
# tier label and a TIMEOUT derived from the knobs (the TIMEOUT is a backstop; the suite's own
# watchdog reports hangs first).
#
#   torchstress_add_test_binary(<name> SOURCES <files...>)
#   torchstress_test_group(<name> FILTER <gtest pattern> LABELS <labels...> TIMEOUT <expr> [GPU [GPUS n]]
#                          [DEVICE_LABELS <backend labels>])
#   torchstress_test_group(<name> REST LABELS <labels...> TIMEOUT <expr> [GPU])
#
# TIMEOUT <expr>: seconds, as an expression over count and seconds knobs, e.g.
# "SOAK_SECONDS + STALL_SECONDS + 120"; evaluated when ctest runs (see TorchstressCtestTime.cmake).
#
# REST takes every case of the binary that no FILTER group claimed, so a new test can never
# fall through unregistered. Tier labels: quick, stress, soak, isolation, bench, regression,
# selftest; backend labels: cpu, cuda, mps, multigpu (none is a substring of another, so
# `ctest -L quick` selects exactly the quick tier and `ctest -L cuda` every CUDA test).

include(${CMAKE_CURRENT_LIST_DIR}/TorchstressCtestTime.cmake)  # torchstress_eval_knob_expr(), shared with ctest time

set(TORCHSTRESS_RESULTS_DIR_DEFAULT "${PROJECT_BINARY_DIR}/results")

# torchstress_timeout_expr(<out> <expr>): evaluates a TIMEOUT expression over knob names, e.g.
# "SOAK_SECONDS + STALL_SECONDS + 120", with the configure-time values (seconds knobs in whole
# seconds). The same expression is evaluated again when ctest runs, with the knobs in force then
# (cmake/TorchstressCtestTime.cmake), so a longer soak is never killed by a stale TIMEOUT.
function(torchstress_timeout_expr out expr)
  string(REGEX MATCHALL "[A-Z][A-Z0-9_]+" names "${expr}")
  foreach(n IN LISTS names)
    if(TORCHSTRESS_KIND_${n} STREQUAL "seconds")
      torchstress_seconds(v ${n})
    elseif(TORCHSTRESS_KIND_${n} STREQUAL "count")
      set(v "${TORCHSTRESS_DEFAULT_${n}}")
    else()
      message(FATAL_ERROR "torchstress: TIMEOUT expression '${expr}' names ${n}, which is no seconds or count knob of knobs.def")
    endif()
    set_property(GLOBAL PROPERTY _TS_KNOB_${n} "${v}")
  endforeach()
  torchstress_eval_knob_expr(result "${expr}" "")
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

function(torchstress_add_test_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE torchstress::test_main)
  torchstress_target_warnings(${name})
  set_property(GLOBAL APPEND PROPERTY TORCHSTRESS_TEST_BINARIES ${name})
endfunction()

function(torchstress_test_group name)
  cmake_parse_arguments(ARG "REST;GPU" "FILTER;TIMEOUT;GPUS" "LABELS;DEVICE_LABELS" ${ARGN})
  if(NOT ARG_DEVICE_LABELS)
    set(ARG_DEVICE_LABELS cpu cuda mps)  # runs on the device under test, whichever it is
  endif()
  get_property(claimed TARGET ${name} PROPERTY TORCHSTRESS_CLAIMED)
  if(ARG_REST)
    set(filter "*")
    if(claimed)
      list(JOIN claimed ":" neg)
      set(filter "*-${neg}")
    endif()
  else()
    set(filter "${ARG_FILTER}")
    set_property(TARGET ${name} APPEND PROPERTY TORCHSTRESS_CLAIMED "${ARG_FILTER}")
  endif()
  get_property(group_count TARGET ${name} PROPERTY TORCHSTRESS_GROUPS)
  if(NOT group_count)
    set(group_count 0)
  endif()
  math(EXPR group_count "${group_count} + 1")
  set_property(TARGET ${name} PROPERTY TORCHSTRESS_GROUPS ${group_count})
  set(list_var "${name}_group${group_count}_TESTS")

  # TIMEOUT is an expression over knob names ("SOAK_SECONDS + STALL_SECONDS + 120"): its
  # configure-time value is the default, re-evaluated when ctest runs with the knobs then in force.
  torchstress_timeout_expr(timeout "${ARG_TIMEOUT}")
  # (gtest_discover_tests itself marks "[  SKIPPED ]" output as a CTest skip.)
  set(props TIMEOUT ${timeout})
  # Where results go by default, and the build tree a repro command should name.
  set(environment "TORCHSTRESS_DEFAULT_RESULTS_DIR=${TORCHSTRESS_RESULTS_DIR_DEFAULT}"
                  "TORCHSTRESS_CTEST_DIR=${CMAKE_BINARY_DIR}")
  if(ARG_GPU AND TORCHSTRESS_HAVE_CUDA)
    # With `ctest --resource-spec-file`, each GPU test gets a card of its own; without a spec
    # file CTest ignores this property.
    if(ARG_GPUS AND ARG_GPUS GREATER 1)
      list(APPEND props RESOURCE_GROUPS "${ARG_GPUS},gpus:1")  # e.g. MultiGPU.*: two cards
    else()
      list(APPEND props RESOURCE_GROUPS "gpus:1")
    endif()
  endif()
  gtest_discover_tests(${name}
    TEST_FILTER "${filter}"
    TEST_LIST ${list_var}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES ${props})

  # gtest_discover_tests flattens list-valued PROPERTIES (a test would keep one label or one
  # variable), and its TIMEOUT is fixed at configure time; so labels, environment and TIMEOUT are
  # applied after discovery, when ctest runs, by cmake/TorchstressCtestTime.cmake.
  set(props_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_group${group_count}_props.cmake")
  file(GENERATE OUTPUT "${props_file}" CONTENT
"include(\"${CMAKE_CURRENT_FUNCTION_LIST_DIR}/TorchstressCtestTime.cmake\")
if(${list_var})
  _ts_apply_group(\"\${${list_var}}\" \"${ARG_LABELS}\" \"${ARG_DEVICE_LABELS}\" \"${ARG_TIMEOUT}\" ${timeout} \"$<TARGET_FILE:${name}>\" \"${environment}\")
endif()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${props_file}")
endfunction()

function(torchstress_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(TORCHSTRESS_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
