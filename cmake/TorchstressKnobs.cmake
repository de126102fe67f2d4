# Reads each knob's kind and default from support/suite/include/torchstress/knobs.def (their one
# home) into TORCHSTRESS_KIND_<NAME> and TORCHSTRESS_DEFAULT_<NAME>: the configure-time values of
# the TIMEOUT expressions. The environment is not read here: when ctest runs, the test binary
# prints the knobs then in force (cmake/TorchstressCtestTime.cmake), so the duration grammar has
# one parser, the binary's (knobs.cpp).
file(STRINGS "${PROJECT_SOURCE_DIR}/support/suite/include/torchstress/knobs.def" _ts_knob_lines REGEX "^TORCHSTRESS_KNOB\\(")
foreach(_line IN LISTS _ts_knob_lines)
  if(_line MATCHES "^TORCHSTRESS_KNOB\\(([A-Z0-9_]+), *[a-z0-9_]+, *([a-z_]+), *\"([^\"]*)\"")
    set(TORCHSTRESS_KIND_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
    set(TORCHSTRESS_DEFAULT_${CMAKE_MATCH_1} "${CMAKE_MATCH_3}")
    list(APPEND TORCHSTRESS_KNOB_NAMES "${CMAKE_MATCH_1}")
  endif()
endforeach()

# torchstress_seconds(<out> <knob>): a seconds knob's default, which knobs.def keeps a whole number
# of seconds so that CMake needs no duration grammar of its own.
function(torchstress_seconds out knob)
  set(v "${TORCHSTRESS_DEFAULT_${knob}}")
  if(NOT v MATCHES "^[0-9]+$")
    message(FATAL_ERROR "torchstress: knobs.def's default of ${knob} is '${v}'; accepted there: a whole number "
      "of seconds (users may write 2.5, 500ms, 2m: the binary parses those)")
  endif()
  set(${out} "${v}" PARENT_SCOPE)
endfunction()
