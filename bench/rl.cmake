# RL loop benchmark: the same config in asynchronous and synchronous mode for the
# same wall time (the synchronous run is the anchor measured in the same run).
if(TARGET troupe_actors)
  add_executable(rl_async_bench ${CMAKE_CURRENT_SOURCE_DIR}/rl_async_bench.cpp)
  target_link_libraries(rl_async_bench PRIVATE troupe_flags troupe_actors CLI11::CLI11 fmt::fmt)
  set_target_properties(rl_async_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()

# Mixture-of-Rewards vs rule-only rewards: rollouts/s of the same loop (rule-only is the anchor),
# with the reward models served by real `troupe serve` processes.
if(TARGET troupe_actors AND TARGET troupe)
  add_executable(mor_bench ${CMAKE_CURRENT_SOURCE_DIR}/mor_bench.cpp)
  target_link_libraries(mor_bench PRIVATE troupe_flags troupe_actors CLI11::CLI11 fmt::fmt nlohmann_json::nlohmann_json)
  target_compile_definitions(mor_bench PRIVATE TROUPE_BIN="$<TARGET_FILE:troupe>")
  add_dependencies(mor_bench troupe)
  set_target_properties(mor_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()
