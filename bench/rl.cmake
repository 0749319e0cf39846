# RL loop benchmark: the same config in asynchronous and synchronous mode for the
# same wall time (the synchronous run is the anchor measured in the same run).
if(TARGET troupe_actors)
  add_executable(rl_async_bench ${CMAKE_CURRENT_SOURCE_DIR}/rl_async_bench.cpp)
  target_link_libraries(rl_async_bench PRIVATE troupe_flags troupe_actors CLI11::CLI11 fmt::fmt)
  set_target_properties(rl_async_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()
