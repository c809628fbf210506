# Kappa installed like any C++ library: `cmake --install build --prefix DIR` puts the public
# headers (and every header they reach) under DIR/include/kappa/, the layer libraries under
# DIR/lib/, the kappa command at DIR/bin/kappa and the CMake package at
# DIR/lib/cmake/Kappa/, so that a user's project needs only
#
#   find_package(Kappa CONFIG REQUIRED)
#   target_link_libraries(my_job PRIVATE Kappa::kappa)
#
# `cpack -G DEB` (scripts/package) packs the same install as a Debian package.
# Included once from the top-level CMakeLists.txt, after the targets exist.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KAPPA_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Kappa)

# The one target a job binary links (Kappa::kappa, in the build tree too): the API, the
# connectors, the job registry, the whole command line and the bench harness with the
# Nexmark queries (kappa::nexmark::RegisterQueries, from kappa/nexmark.h). The layer libraries are
# static, so it also carries their link dependencies (RocksDB, librdkafka, protobuf).
add_library(kappa_library INTERFACE)
add_library(Kappa::kappa ALIAS kappa_library)
set_target_properties(kappa_library PROPERTIES EXPORT_NAME kappa)
target_link_libraries(kappa_library INTERFACE kappa_cli kappa_bench kappa_app kappa_connectors kappa_api
                      kappa_operators kappa_testing)
target_compile_features(kappa_library INTERFACE cxx_std_20)

# Installed headers keep their source-tree paths: "kappa/runtime/operator.h" resolves
# under DIR/include as it does under the source tree.
target_include_directories(kappa_base PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# Every layer is exported, not only those the umbrella names: a static library's PRIVATE
# dependencies (kappa_cli on kappa_bench, kappa_state on RocksDB) are still linked by its
# consumers, so they must exist for them as targets. Kappa::<layer> is each layer alone.
get_directory_property(KAPPA_LAYERS DIRECTORY ${PROJECT_SOURCE_DIR}/kappa DEFINITION KAPPA_LAYERS)
set(kappa_exported kappa_library)
foreach(layer IN LISTS KAPPA_LAYERS)
  set_target_properties(kappa_${layer} PROPERTIES EXPORT_NAME ${layer})
  list(APPEND kappa_exported kappa_${layer})
endforeach()
install(TARGETS ${kappa_exported} EXPORT KappaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS kappa RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT KappaTargets NAMESPACE Kappa:: DESTINATION ${KAPPA_INSTALL_CMAKEDIR})

# Headers: the public ones (kappa/*.h) and every header they include, transitively, found
# at install time so that a header added or dropped by a change is installed (or not)
# without a list to keep. Tests, benchmarks and what no public header reaches stay out.
install(CODE "
  set(KAPPA_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(KAPPA_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  set(KAPPA_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install_headers.cmake\")
")

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/KappaConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/KappaConfig.cmake
                              INSTALL_DESTINATION ${KAPPA_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/KappaConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/KappaConfig.cmake ${PROJECT_BINARY_DIR}/KappaConfigVersion.cmake
        DESTINATION ${KAPPA_INSTALL_CMAKEDIR})

# The Debian package (`cpack -G DEB` in the build directory, or scripts/package): the same
# install under /usr. Its Depends are the -dev packages KappaConfig.cmake finds, which in
# turn bring the shared libraries the kappa binary and users' jobs link.
set(CPACK_PACKAGE_NAME kappa)
set(CPACK_PACKAGE_VENDOR "Kappa")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kappa: stateful stream processing in C++ (library, headers, kappa command)")
set(CPACK_PACKAGE_CONTACT "Kappa maintainers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "cmake (>= 3.25), pkg-config, libabsl-dev, libprotobuf-dev, librocksdb-dev, librdkafka-dev, libcpp-httplib-dev, libspdlog-dev, libsimdjson-dev, "
    "libgtest-dev, libgmock-dev")  # kappa/testing.h's matchers are gmock's; `kappa new` projects test with GTest
set(CPACK_GENERATOR DEB)
include(CPack)
