# haremq_library / haremq_test / haremq_bench: a module's library, its tests and its
# benchmarks are declared together in the module's own CMakeLists.txt.

function(haremq_apply_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(HAREMQ_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(HAREMQ_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12's ASan instrumentation makes -Wmaybe-uninitialized fire inside libstdc++
    # (std::regex, std::function): false positives that the plain build does not show.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()

# haremq_library(NAME name SOURCES ... [DEPS ...]) -> target haremq_<name>, alias haremq::<name>
function(haremq_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(haremq_${ARG_NAME} ${ARG_SOURCES})
  add_library(haremq::${ARG_NAME} ALIAS haremq_${ARG_NAME})
  target_include_directories(haremq_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(haremq_${ARG_NAME} PUBLIC ${ARG_DEPS})
  haremq_apply_warnings(haremq_${ARG_NAME})
endfunction()

# haremq_test(NAME name SOURCES ... [DEPS ...] [LABELS ...])
function(haremq_test)
  if(NOT HAREMQ_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  haremq_apply_warnings(${ARG_NAME})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  # Prefixed with the executable, so `ctest -R amqp_test` runs one module's tests.
  gtest_discover_tests(${ARG_NAME} TEST_PREFIX "${ARG_NAME}." PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()

# haremq_bench(NAME name SOURCES ... [DEPS ...]); `ctest -L bench` runs each once as a smoke test.
function(haremq_bench)
  if(NOT HAREMQ_BENCH)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark benchmark::benchmark_main)
  haremq_apply_warnings(${ARG_NAME})
  if(HAREMQ_TESTS)
    add_test(NAME ${ARG_NAME}.smoke COMMAND ${ARG_NAME} --benchmark_min_time=0.01)
    set_tests_properties(${ARG_NAME}.smoke PROPERTIES LABELS bench TIMEOUT 300)
  endif()
endfunction()

# haremq_fuzzer(NAME name SOURCES ... [DEPS ...]): a libFuzzer target (clang only).
function(haremq_fuzzer)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  haremq_apply_warnings(${ARG_NAME})
endfunction()
