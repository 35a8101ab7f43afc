# Capture-agent throughput benchmark (run by hand; see bench/capture/capture_bench.cpp):
#   make-big-pcap /tmp/big.pcap 1200000
#   capture-bench /tmp/big.pcap $<TARGET_FILE:flowguard-capture> --profile corrected
add_executable(make-big-pcap ${CMAKE_CURRENT_LIST_DIR}/make_big_pcap.cpp)
target_link_libraries(make-big-pcap PRIVATE flowguard_warnings)
add_executable(capture-bench ${CMAKE_CURRENT_LIST_DIR}/capture_bench.cpp)
target_link_libraries(capture-bench PRIVATE flowguard_capture_core flowguard_warnings)
