# Issue 5's benchmark: the UCX transport, the gateway and the weight broadcast beside ucx_perftest
# (from ucx-utils), all in one run: build/bench/wire_bench [--quick]
add_executable(wire_bench ${CMAKE_CURRENT_LIST_DIR}/wire_bench.cpp)
target_link_libraries(wire_bench PRIVATE troupe_flags troupe_wire troupe_actors CAF::io)
if(TROUPE_HOP_TRACE)
  target_compile_definitions(wire_bench PRIVATE TROUPE_HOP_TRACE)
endif()
