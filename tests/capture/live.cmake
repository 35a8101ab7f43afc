# Live capture on a veth pair inside network namespaces the script creates (root only; skips otherwise).
add_executable(live_probe live_probe.cpp)
target_link_libraries(live_probe PRIVATE flowguard_capture_core flowguard_warnings)
add_test(NAME capture/live_capture_veth
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/live_capture.sh $<TARGET_FILE:live_probe>)
set_tests_properties(capture/live_capture_veth PROPERTIES LABELS live SKIP_RETURN_CODE 77 TIMEOUT 60)

# A quiet link (loopback and a veth nobody sends on) still yields `timeout` from next().
add_test(NAME capture/live_quiet_link
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/live_quiet.sh $<TARGET_FILE:live_probe>)
set_tests_properties(capture/live_quiet_link PROPERTIES LABELS live SKIP_RETURN_CODE 77 TIMEOUT 120)
