# flowguardctl and its blocking control-socket client (no LibTorch, no Asio).
add_library(flowguard_control_client STATIC ${CMAKE_CURRENT_SOURCE_DIR}/control/control_client.cpp)
target_include_directories(flowguard_control_client PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/control)
target_link_libraries(flowguard_control_client PUBLIC flowguard_proto PRIVATE fmt::fmt flowguard_warnings)

add_executable(flowguardctl ${CMAKE_CURRENT_SOURCE_DIR}/ctl/main.cpp)
target_link_libraries(flowguardctl PRIVATE flowguard_control_client CLI11::CLI11 fmt::fmt flowguard_warnings)
