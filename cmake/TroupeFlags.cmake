# Warnings and sanitizers for troupe's own targets (dependencies are SYSTEM includes).
add_library(troupe_flags INTERFACE)
target_compile_options(troupe_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
  -Wno-missing-field-initializers>)
target_include_directories(troupe_flags INTERFACE ${PROJECT_SOURCE_DIR})

if(TROUPE_SANITIZE)
  string(REPLACE "," ";" _sans "${TROUPE_SANITIZE}")
  string(REPLACE ";" "," _san_flag "${_sans}")
  message(STATUS "troupe: sanitizers ${_san_flag}")
  # UBSan findings stay recoverable at compile time so that tests/ubsan.supp can name an idiom of CAF
  # 0.17.6's own headers that UBSan reports (an intrusive queue's sentinel head downcast to its element
  # type); a suppression only takes effect on a recoverable check. Every test runs with
  # halt_on_error=1 (TROUPE_SANITIZER_ENV below), so any other finding still stops the test.
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${_san_flag}>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=${_san_flag})
  # One variable (no ';': it passes through gtest_discover_tests' PROPERTIES); processes a test
  # starts inherit it.
  set(TROUPE_SANITIZER_ENV
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=${PROJECT_SOURCE_DIR}/tests/ubsan.supp")
endif()
