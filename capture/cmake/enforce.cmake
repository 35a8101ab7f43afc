# flowguard_enforce: blocking (nftables sets, allowlist, block list persistence), EVE alerts, the SQLite
# event store and the capture agent's control socket. Never links LibTorch or libpcap directly.
add_library(flowguard_enforce STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/address.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/allowlist.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/nft_blocker.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/block_manager.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/event_store.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/eve.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/alert_writer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/control_server.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/enforcement.cpp
)
target_include_directories(flowguard_enforce PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_enforce
  PUBLIC flowguard_proto nlohmann_json::nlohmann_json spdlog::spdlog fmt::fmt Threads::Threads
  PRIVATE PkgConfig::NFTABLES SQLite::SQLite3 CLI11::CLI11 flowguard_warnings)

# The agent hook (app/extension.hpp) needs the capture core's headers; it is compiled only when the
# app hook exists, so enforcement builds and tests on its own otherwise.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/app/extension.hpp AND TARGET flowguard_capture_core)
  target_sources(flowguard_enforce PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/enforce/enforce_extension.cpp)
  target_link_libraries(flowguard_enforce PRIVATE flowguard_capture_core)
  target_compile_definitions(flowguard_enforce PRIVATE FLOWGUARD_VERSION="${PROJECT_VERSION}")
endif()
