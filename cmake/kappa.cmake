# kappa_cc_test(NAME name SRCS a.cc ... DEPS target ... [LABELS unit|integration|slow]) — one label
# Builds one GoogleTest binary and registers each TEST with ctest, labelled so the
# suite can be split (ctest -L unit, ctest -LE slow).
function(kappa_cc_test)
  if(NOT KAPPA_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}"
    DISCOVERY_TIMEOUT 60)
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
