# `cmake --install` puts the support library, its headers and torchstressConfig.cmake in place, so
# a fork can write its own threaded tests with our gate, runner, error capture and device sync:
#   find_package(torchstress CONFIG REQUIRED)
#   target_link_libraries(my_tests PRIVATE torchstress::support torchstress::test_main)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS torchstress_support torchstress_test_main EXPORT torchstressTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/support/include/torchstress DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT torchstressTargets NAMESPACE torchstress:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/torchstress)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/torchstressConfig.cmake.in
  ${PROJECT_BINARY_DIR}/torchstressConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/torchstress)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/torchstressConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/torchstressConfig.cmake ${PROJECT_BINARY_DIR}/torchstressConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/torchstress)
