# Issue 8's benchmark: metric update cost beside a relaxed atomic and one rollout: build/bench/metrics_bench [--quick]
add_executable(metrics_bench ${CMAKE_CURRENT_LIST_DIR}/metrics_bench.cpp)
target_link_libraries(metrics_bench PRIVATE troupe_flags troupe_monitoring troupe_model)
