# Model benchmarks: training and sampling speed of the policy transformer beside
# OpenBLAS sgemm measured in the same run and ANCHORS.md's PyTorch figures.
add_executable(model_bench ${CMAKE_CURRENT_SOURCE_DIR}/model_bench.cpp)
target_link_libraries(model_bench PRIVATE troupe_flags troupe_model troupe_kernels troupe_cuda)
set_target_properties(model_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
