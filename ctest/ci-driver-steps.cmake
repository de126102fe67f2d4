# Steps of ctest/ci-driver.cmake (included by it; not run on its own): one tier of labels, and the
# report. Kept apart so the driver reads as its sequence of steps.

# ts_run_tier(<LABELS[:EXCLUDED]> <first> <ok_var> <count_var>): runs one tier into
# <out>/junit-<tier>.xml; labels joined by '+' mean any of them. Only the first tier runs in
# parallel: later ones (soak, bench) measure, and two at once would halve each other's figures.
function(ts_run_tier tier first ok_var count_var)
  string(REPLACE ":" ";" parts "${tier}")
  list(GET parts 0 include)
  string(REPLACE "+" "|" include "${include}")
  string(REGEX REPLACE "[^A-Za-z0-9]+" "-" name "${tier}")
  set(args OUTPUT_JUNIT "${TORCHSTRESS_OUT_DIR}/junit-${name}.xml" INCLUDE_LABEL "^(${include})$")
  list(LENGTH parts n)
  if(n GREATER 1)
    list(GET parts 1 exclude)
    string(REPLACE "+" "|" exclude "${exclude}")
    list(APPEND args EXCLUDE_LABEL "^(${exclude})$")
  endif()
  # Explicitly 1 after the first tier: ctest_test's PARALLEL_LEVEL carries over to later calls (seen
  # on the H100: both 60 s soaks ran at once and each measured a fraction of its rate).
  if(first)
    list(APPEND args PARALLEL_LEVEL ${TORCHSTRESS_TEST_JOBS})
  else()
    list(APPEND args PARALLEL_LEVEL 1)
  endif()
  if(NOT TORCHSTRESS_SHARD_COUNT STREQUAL "")
    if(NOT TORCHSTRESS_SHARD_INDEX MATCHES "^[0-9]+$" OR NOT TORCHSTRESS_SHARD_COUNT MATCHES "^[1-9][0-9]*$"
       OR NOT TORCHSTRESS_SHARD_INDEX LESS TORCHSTRESS_SHARD_COUNT)
      message(FATAL_ERROR "torchstress ci-driver: bad input: TORCHSTRESS_SHARD_INDEX='${TORCHSTRESS_SHARD_INDEX}' and "
        "TORCHSTRESS_SHARD_COUNT='${TORCHSTRESS_SHARD_COUNT}'; accepted: 0 <= INDEX < COUNT")
    endif()
    math(EXPR start "${TORCHSTRESS_SHARD_INDEX} + 1")
    list(APPEND args START ${start} STRIDE ${TORCHSTRESS_SHARD_COUNT})
  endif()
  if(TORCHSTRESS_RESOURCE_SPEC_FILE)
    list(APPEND args RESOURCE_SPEC_FILE "${TORCHSTRESS_RESOURCE_SPEC_FILE}")
  endif()
  message("== torchstress ci-driver: tier ${tier}")
  ctest_test(${args} RETURN_VALUE rc CAPTURE_CMAKE_ERROR err)
  set(tests 0)
  if(EXISTS "${TORCHSTRESS_OUT_DIR}/junit-${name}.xml")
    file(READ "${TORCHSTRESS_OUT_DIR}/junit-${name}.xml" junit LIMIT 4096)
    if(junit MATCHES "<testsuite[^>]*[ \t\r\n]tests=\"([0-9]+)\"")
      set(tests "${CMAKE_MATCH_1}")
    endif()
  endif()
  message("torchstress ci-driver: tier ${tier}: ${tests} test(s), ctest code ${rc}")
  if(rc EQUAL 0 AND NOT err EQUAL -1)
    set(${ok_var} ON PARENT_SCOPE)
  else()
    set(${ok_var} OFF PARENT_SCOPE)
  endif()
  set(${count_var} ${tests} PARENT_SCOPE)
endfunction()

# ts_write_report(<rc_var>): torchstress_report over <out>/results into <out>, with the baseline
# when one is given; rc 0 written, 1 release gate failed, other: the tool failed or is missing.
function(ts_write_report rc_var)
  set(report "")
  foreach(cand "${TORCHSTRESS_BUILD_DIR}/tools/report/torchstress_report"
               "${TORCHSTRESS_BUILD_DIR}/tools/report/${TORCHSTRESS_BUILD_TYPE}/torchstress_report")
    if(NOT report AND EXISTS "${cand}" AND NOT IS_DIRECTORY "${cand}")
      set(report "${cand}")
    endif()
  endforeach()
  if(NOT report)
    message(WARNING "torchstress ci-driver: no torchstress_report in this build; the results are in ${TORCHSTRESS_RESULTS_DIR}")
    set(${rc_var} 3 PARENT_SCOPE)
    return()
  endif()
  set(baseline_args "")
  if(TORCHSTRESS_BASELINE)
    set(baseline_args --baseline "${TORCHSTRESS_BASELINE}")
  endif()
  # CTest's own list of what ran (the tiers' JUnit files): the report counts every one of those
  # tests, as a test, a control, or by name as one that wrote no results line.
  set(junit_args "")
  file(GLOB junit_files "${TORCHSTRESS_OUT_DIR}/junit-*.xml")
  foreach(j IN LISTS junit_files)
    list(APPEND junit_args --ctest-junit "${j}")
  endforeach()
  execute_process(COMMAND "${report}" --results "${TORCHSTRESS_RESULTS_DIR}" --out "${TORCHSTRESS_OUT_DIR}" ${baseline_args}
                  ${junit_args} RESULT_VARIABLE rc)
  set(${rc_var} ${rc} PARENT_SCOPE)
endfunction()
