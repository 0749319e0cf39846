# troupe_add_test(NAME SOURCES a.cpp b.cpp LIBS x y [LABELS l] [TIMEOUT s] [SERIAL])
# One GoogleTest executable; each TEST becomes a ctest case with a time bound.
# SERIAL: its cases never run beside another test under `ctest -j` (timing-sensitive
# multi-process tests, and tests that load both cores).
include(GoogleTest)
function(troupe_add_test name)
  cmake_parse_arguments(T "SERIAL" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE troupe_flags GTest::gtest GTest::gtest_main ${T_LIBS})
  set(_props TIMEOUT ${T_TIMEOUT})
  if(T_LABELS)
    list(APPEND _props LABELS "${T_LABELS}")
  endif()
  if(T_SERIAL)
    list(APPEND _props RUN_SERIAL TRUE)
  endif()
  if(TROUPE_SANITIZER_ENV)
    list(APPEND _props ENVIRONMENT "${TROUPE_SANITIZER_ENV}")
  endif()
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    DISCOVERY_TIMEOUT 60
    PROPERTIES ${_props})
endfunction()

# A bounded libFuzzer run of FUZZER over a corpus that SEEDS (an executable built here from
# SEEDS_SOURCE, linked with LIBS) writes first: tests <prefix>_fuzz_seeds (make the directory),
# <prefix>_fuzz_seeds_write, and NAME itself, RUNS inputs, label fuzz.
function(troupe_add_fuzz_smoke name)
  cmake_parse_arguments(F "" "FUZZER;PREFIX;SEEDS_SOURCE;RUNS" "LIBS" ${ARGN})
  set(_seeds ${F_PREFIX}_fuzz_seeds)
  add_executable(${_seeds} ${F_SEEDS_SOURCE})
  target_link_libraries(${_seeds} PRIVATE troupe_flags ${F_LIBS})
  set(_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus)
  add_test(NAME ${_seeds} COMMAND ${CMAKE_COMMAND} -E make_directory ${_corpus})
  add_test(NAME ${_seeds}_write COMMAND ${_seeds} ${_corpus})
  set_tests_properties(${_seeds} PROPERTIES FIXTURES_SETUP ${F_PREFIX}_corpus_dir LABELS fuzz)
  set_tests_properties(${_seeds}_write PROPERTIES FIXTURES_REQUIRED ${F_PREFIX}_corpus_dir
                       FIXTURES_SETUP ${F_PREFIX}_corpus LABELS fuzz)
  add_test(NAME ${name} COMMAND ${F_FUZZER} -runs=${F_RUNS} -max_len=4096 -seed=1 -timeout=10 ${_corpus})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 FIXTURES_REQUIRED ${F_PREFIX}_corpus LABELS fuzz)
endfunction()
