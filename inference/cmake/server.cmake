# flowguard-infer: Asio socket server + LibTorch inference. The library holds everything but main() so
# the tests can run a real server in-process on a real socket.
add_library(flowguard_infer_server STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/server/model.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/server/policy.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/server/handshake.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/server/batcher.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/server/server.cpp)
target_include_directories(flowguard_infer_server PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(flowguard_infer_server PRIVATE FLOWGUARD_VERSION="${PROJECT_VERSION}")
target_link_libraries(flowguard_infer_server
  PUBLIC flowguard_bundle flowguard_proto Boost::headers spdlog::spdlog fmt::fmt yaml-cpp Threads::Threads
  PRIVATE flowguard_warnings)

add_executable(flowguard-infer ${CMAKE_CURRENT_SOURCE_DIR}/server/main.cpp)
target_link_libraries(flowguard-infer PRIVATE flowguard_infer_server CLI11::CLI11 flowguard_warnings)
# Asio's scheduler trips GCC 12's -Wnull-dereference from inlined header code, not from ours.
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/server/server.cpp PROPERTIES COMPILE_OPTIONS -Wno-null-dereference)
