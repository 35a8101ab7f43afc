# flowguard_enforce: blocking (nftables sets, allowlist, block list persistence), EVE alerts, the SQLite
# event store and the capture agent's control socket. Depends on core/ only; never LibTorch or libpcap.
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
  ${CMAKE_CURRENT_SOURCE_DIR}/enforce/enforce_extension.cpp
)
target_link_libraries(flowguard_enforce
  PUBLIC flowguard_capture_vocabulary flowguard_proto nlohmann_json::nlohmann_json spdlog::spdlog fmt::fmt Threads::Threads
  PRIVATE PkgConfig::NFTABLES SQLite::SQLite3 CLI11::CLI11 flowguard_warnings)
target_compile_definitions(flowguard_enforce PRIVATE FLOWGUARD_VERSION="${PROJECT_VERSION}")
