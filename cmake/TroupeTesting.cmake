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
