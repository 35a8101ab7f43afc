# flowguard_capture_link: the agent's socket link to flowguard-infer (plain POSIX sockets + threads).
# No LibTorch, no Asio.
add_library(flowguard_capture_link STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/link/link_options.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/link/server_link.cpp)
target_include_directories(flowguard_capture_link PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_capture_link
  PUBLIC flowguard_proto Threads::Threads
  PRIVATE CLI11::CLI11 spdlog::spdlog fmt::fmt flowguard_warnings)

# The agent hook (app/extension.hpp) needs the capture core's headers; compiled only when both exist so
# the link builds and tests on its own otherwise.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/app/extension.hpp AND TARGET flowguard_capture_core)
  target_sources(flowguard_capture_link PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/link/link_extension.cpp)
  target_link_libraries(flowguard_capture_link PRIVATE flowguard_capture_core)
  target_compile_definitions(flowguard_capture_link PRIVATE FLOWGUARD_VERSION="${PROJECT_VERSION}")
endif()
