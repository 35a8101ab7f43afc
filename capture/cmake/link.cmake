# flowguard_capture_link: the agent's socket link to flowguard-infer (plain POSIX sockets + threads).
# Depends on core/ only (docs/architecture.md); no LibTorch, no Asio.
add_library(flowguard_capture_link STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/link/link_options.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/link/codec.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/link/connection.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/link/in_flight.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/link/server_link.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/link/link_extension.cpp
)
target_link_libraries(flowguard_capture_link
  PUBLIC flowguard_capture_vocabulary flowguard_proto Threads::Threads
  PRIVATE CLI11::CLI11 spdlog::spdlog fmt::fmt flowguard_warnings)
target_compile_definitions(flowguard_capture_link PRIVATE FLOWGUARD_VERSION="${PROJECT_VERSION}")
