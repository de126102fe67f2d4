# Test registration: one CTest test per gtest case (discovered when ctest runs), each with a
# tier label and a TIMEOUT derived from the knobs (the TIMEOUT is a backstop; the suite's own
# watchdog reports hangs first).
#
#   torchstress_add_test_binary(<name> SOURCES <files...>)
#   torchstress_test_group(<name> FILTER <gtest pattern> LABELS <labels...> TIMEOUT <seconds> [GPU [GPUS n]])
#   torchstress_test_group(<name> REST LABELS <labels...> TIMEOUT <seconds> [GPU])
#
# REST takes every case of the binary that no FILTER group claimed, so a new test can never
# fall through unregistered. Labels: quick, stress, soak, isolation, bench, regression, selftest
# (none is a substring of another, so `ctest -L quick` selects exactly the quick tier).

set(TORCHSTRESS_RESULTS_DIR_DEFAULT "${PROJECT_BINARY_DIR}/results")

function(torchstress_add_test_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE torchstress::test_main)
  torchstress_target_warnings(${name})
  set_property(GLOBAL APPEND PROPERTY TORCHSTRESS_TEST_BINARIES ${name})
endfunction()

function(torchstress_test_group name)
  cmake_parse_arguments(ARG "REST;GPU" "FILTER;TIMEOUT;GPUS" "LABELS" ${ARGN})
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

  # (gtest_discover_tests itself marks "[  SKIPPED ]" output as a CTest skip.)
  set(props TIMEOUT ${ARG_TIMEOUT}
            ENVIRONMENT "TORCHSTRESS_DEFAULT_RESULTS_DIR=${TORCHSTRESS_RESULTS_DIR_DEFAULT}")
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

  # gtest_discover_tests flattens list-valued PROPERTIES (a test would keep one label), so the
  # labels are applied after discovery, from the group's TEST_LIST.
  set(label_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_group${group_count}_labels.cmake")
  file(WRITE "${label_file}"
    "if(${list_var})\n  set_tests_properties(\${${list_var}} PROPERTIES LABELS \"${ARG_LABELS}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${label_file}")
endfunction()

function(torchstress_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(TORCHSTRESS_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
