# `cmake --install` puts the support libraries (core, harness, suite), their headers and
# torchstressConfig.cmake in place, so a fork can write its own threaded tests with our gate,
# runner, error capture and device sync:
#   find_package(torchstress CONFIG REQUIRED)
#   target_link_libraries(my_tests PRIVATE torchstress::harness)                         # the machinery only
#   target_link_libraries(my_tests PRIVATE torchstress::suite torchstress::test_main)    # with our knobs and main
# (torchstress::support, harness + suite, stays for existing consumers)
# or, with our labels, timeouts and per-case discovery:
#   torchstress_add_test_binary(my_tests SOURCES my_test.cpp)
#   torchstress_test_group(my_tests REST LABELS quick TIMEOUT 120)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TORCHSTRESS_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/torchstress"
  CACHE STRING "Where `cmake --install` puts torchstressConfig.cmake, relative to the prefix")

install(TARGETS torchstress_core torchstress_harness torchstress_suite torchstress_support torchstress_test_main
  EXPORT torchstressTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(_ts_part core harness suite)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/support/${_ts_part}/include/torchstress DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(EXPORT torchstressTargets NAMESPACE torchstress:: DESTINATION ${TORCHSTRESS_INSTALL_CMAKEDIR})
# The test-registration helpers travel with the package, so an installed consumer registers its
# cases exactly as the suite does (tier labels, TIMEOUTs, PRE_TEST discovery).
install(FILES ${PROJECT_SOURCE_DIR}/cmake/TorchstressTesting.cmake ${PROJECT_SOURCE_DIR}/cmake/TorchstressCtestTime.cmake DESTINATION ${TORCHSTRESS_INSTALL_CMAKEDIR})

# What the config file checks the consumer's LibTorch against: the library was compiled for this
# LibTorch, ABI and backend set, and silently mixing another one fails only at link or run time.
set(TORCHSTRESS_CONFIG_TORCH_DIR "${Torch_DIR}")
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/torchstressConfig.cmake.in
  ${PROJECT_BINARY_DIR}/torchstressConfig.cmake
  INSTALL_DESTINATION ${TORCHSTRESS_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/torchstressConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/torchstressConfig.cmake ${PROJECT_BINARY_DIR}/torchstressConfigVersion.cmake
  DESTINATION ${TORCHSTRESS_INSTALL_CMAKEDIR})
