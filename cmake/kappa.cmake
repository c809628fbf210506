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
  # Several labels reach each test as one list: gtest_discover_tests passes its PROPERTIES
  # through two rounds of list expansion and a -D argument, so the separators are escaped
  # for each (ctest -N -L kafka lists the tests of a KAFKA binary labelled integration).
  set(labels ${T_LABELS})
  if(T_KAFKA)
    list(APPEND labels kafka)
  endif()
  string(REPLACE ";" "\\\\\\\\\\\\\\\\;" labels "${labels}")
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(T_KAFKA)
    target_compile_definitions(${T_NAME} PRIVATE KAPPA_KAFKA_BROKER_SCRIPT="${PROJECT_SOURCE_DIR}/scripts/kafka-broker")
    gtest_discover_tests(${T_NAME}
      PROPERTIES LABELS "${labels}" FIXTURES_REQUIRED kafka_broker
                 ENVIRONMENT KAPPA_TEST_KAFKA=${KAPPA_TEST_KAFKA_DIR}
      DISCOVERY_TIMEOUT 60)
  else()
    gtest_discover_tests(${T_NAME}
      PROPERTIES LABELS "${labels}"
      DISCOVERY_TIMEOUT 60)
  endif()
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
