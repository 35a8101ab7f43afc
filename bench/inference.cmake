# bench_infer: flows/s and latency of flowguard-infer through its real socket (run by hand; see
# bench/inference/bench_infer.cpp for the command line).
add_executable(bench_infer ${CMAKE_CURRENT_SOURCE_DIR}/inference/bench_infer.cpp)
target_link_libraries(bench_infer PRIVATE flowguard_infer_server flowguard_capture_link flowguard_warnings)
