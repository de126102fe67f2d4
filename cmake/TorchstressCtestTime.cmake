# Included by CTest (not by configure) from each test group's generated properties file, when
# ctest loads the test list. Two things are decided here rather than at configure time:
#  - TIMEOUTs follow the knobs in force when ctest runs: a test binary prints the numeric knobs
#    (--torchstress_print_knobs, the one parser of the duration grammar) and each group's TIMEOUT
#    expression is evaluated with them, so TORCHSTRESS_SOAK_SECONDS=2h ctest -L soak is not killed.
#  - Backend labels (cpu, cuda, mps, multigpu) from the suite name, beside the tier labels.
include_guard(GLOBAL)

# Loads _ts_knob_<NAME> once per ctest run from `printer`. On failure (a bad knob value), the
# configure-time TIMEOUTs stay; the tests themselves then stop with the knob's one-line error.
function(_ts_load_knobs printer)
  get_property(loaded GLOBAL PROPERTY _TS_KNOBS_LOADED)
  if(loaded OR NOT EXISTS "${printer}")
    return()
  endif()
  set_property(GLOBAL PROPERTY _TS_KNOBS_LOADED ON)
  execute_process(COMMAND "${printer}" --torchstress_print_knobs
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
  if(NOT rc EQUAL 0)
    message(WARNING "torchstress: cannot read the knobs in force (${err}); TIMEOUTs keep their configure-time values")
    return()
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^([A-Z0-9_]+)=([0-9]+)$")
      set_property(GLOBAL PROPERTY _TS_KNOB_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
    endif()
  endforeach()
endfunction()

# torchstress_eval_knob_expr(<out> <expr> <fallback>): a TIMEOUT expression over knob names
# ("SOAK_SECONDS + STALL_SECONDS + 120") with each name's value from the global property
# _TS_KNOB_<NAME>; `fallback` when a name has none. The one evaluator: configure time fills the
# properties from knobs.def's defaults (TorchstressTesting.cmake), ctest time from the binary.
function(torchstress_eval_knob_expr out expr fallback)
  set(e "${expr}")
  string(REGEX MATCHALL "[A-Z][A-Z0-9_]+" names "${expr}")
  foreach(n IN LISTS names)
    get_property(v GLOBAL PROPERTY _TS_KNOB_${n})
    if(v STREQUAL "")
      set(${out} "${fallback}" PARENT_SCOPE)
      return()
    endif()
    string(REGEX REPLACE "(^|[^A-Z0-9_])${n}([^A-Z0-9_]|$)" "\\1${v}\\2" e "${e}")
  endforeach()
  math(EXPR result "${e}")
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

# Backend labels of one test, from its suite name: MultiGPU -> cuda;multigpu, *MPS*/Mps* -> mps,
# *CUDA*/Cuda* or a per-thread CUDA stream soak -> cuda, Cpu*/ParallelCPU -> cpu; any other test
# runs on the device under test and carries `device_labels` (cpu;cuda;mps for the battery).
function(_ts_backend_labels out test device_labels)
  string(REGEX REPLACE "\\..*" "" suite "${test}")
  if(suite MATCHES "MultiGPU")
    set(labels cuda multigpu)
  elseif(suite MATCHES "MPS|^Mps")
    set(labels mps)
  elseif(suite MATCHES "CUDA|^Cuda" OR test MATCHES "PoolStreamPerThread")
    set(labels cuda)
  elseif(suite MATCHES "^Cpu|CPU")
    set(labels cpu)
  else()
    set(labels ${device_labels})
  endif()
  set(${out} "${labels}" PARENT_SCOPE)
endfunction()

# Applies tier labels, backend labels, the environment and the TIMEOUT to every test of a group.
function(_ts_apply_group tests tier_labels device_labels timeout_expr timeout_fallback printer environment)
  _ts_load_knobs("${printer}")
  torchstress_eval_knob_expr(timeout "${timeout_expr}" "${timeout_fallback}")
  foreach(t IN LISTS tests)
    _ts_backend_labels(backend "${t}" "${device_labels}")
    set_tests_properties("${t}" PROPERTIES LABELS "${tier_labels};${backend}" TIMEOUT "${timeout}"
                                           ENVIRONMENT "${environment}")
  endforeach()
endfunction()
