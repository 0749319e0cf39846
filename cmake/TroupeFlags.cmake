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
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${_san_flag}>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=undefined>)
  add_link_options(-fsanitize=${_san_flag})
endif()
