# bench_trees: forward flows per CPU-second of model bundles (tree ensembles and networks) at batch 1, 16
# and 256 on one thread (run by hand; see bench/models/bench_trees.cpp), with the inference server's
# LibTorch set-up, so what it measures is what flowguard-infer runs.
add_executable(bench_trees ${CMAKE_CURRENT_SOURCE_DIR}/models/bench_trees.cpp)
target_link_libraries(bench_trees PRIVATE flowguard_bundle flowguard_infer_server flowguard_warnings)
