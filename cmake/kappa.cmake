# kappa_cc_test(NAME name SRCS a.cc ... DEPS target ... [LABELS unit|integration|slow] [KAFKA])
# Builds one GoogleTest binary and registers each TEST with ctest, labelled so the
# suite can be split (ctest -L unit, ctest -LE slow). KAFKA: the tests need a real Kafka
# cluster; they get the label `kafka`, require the kafka_broker fixture (one cluster for
# the whole run, started by scripts/kafka-broker) and find it through KAPPA_TEST_KAFKA
# (tests/kafka_cluster.h).
set(KAPPA_TEST_KAFKA_DIR ${CMAKE_BINARY_DIR}/test-kafka)
function(kappa_cc_test)
  if(NOT KAPPA_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "KAFKA" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  # The properties are set by a file ctest includes after the discovered tests:
  # gtest_discover_tests cannot pass a list (two labels) through PROPERTIES, and a second
  # label would be read as a property name, losing what follows it.
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60)
  set(properties "LABELS \"${T_LABELS}\"")
  if(T_KAFKA)
    target_compile_definitions(${T_NAME} PRIVATE KAPPA_KAFKA_BROKER_SCRIPT="${PROJECT_SOURCE_DIR}/scripts/kafka-broker")
    set(properties "LABELS \"${T_LABELS};kafka\" FIXTURES_REQUIRED kafka_broker ENVIRONMENT \"KAPPA_TEST_KAFKA=${KAPPA_TEST_KAFKA_DIR}\"")
  endif()
  set(include_file ${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_properties.cmake)
  file(WRITE ${include_file}
       "if(${T_NAME}_TESTS)\n"
       "  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES ${properties})\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()

# kappa_cc_bench(NAME name SRCS a.cc ... DEPS target ...)
function(kappa_cc_bench)
  if(NOT KAPPA_BUILD_BENCH)
    return()
  endif()
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${B_NAME} ${B_SRCS})
  target_link_libraries(${B_NAME} PRIVATE ${B_DEPS} benchmark::benchmark benchmark::benchmark_main)
endfunction()
