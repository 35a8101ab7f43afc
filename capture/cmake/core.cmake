# core/: the vocabulary every other capture folder builds on (header-only). capture/ is the include
# root: #include "core/flow_report.hpp", "decode/packet.hpp", ...
add_library(flowguard_capture_vocabulary INTERFACE)
target_include_directories(flowguard_capture_vocabulary INTERFACE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_capture_vocabulary INTERFACE flowguard_common)
# A switch over an enum that misses an enumerator (a new profile, a new verdict action) is an error.
target_compile_options(flowguard_capture_vocabulary INTERFACE -Werror=switch)

# The profile registry on its own: torch-free and pcap-free, so the trainer takes the feature names
# from the same definition as the agent.
add_library(flowguard_profiles STATIC ${CMAKE_CURRENT_SOURCE_DIR}/features/profile.cpp)
target_link_libraries(flowguard_profiles PUBLIC flowguard_capture_vocabulary PRIVATE flowguard_warnings)

# flowguard_capture_core: everything the agent does with packets before they leave the process.
add_library(flowguard_capture_core STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/decode/decoder.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/decode/decode_counters.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/decode/reference_scan.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/source/packet_source.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/features/cicids2017.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/features/corrected.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/context/host_context.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/flow/flow_table.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/flow/flow_engine.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/output/java_format.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/output/csv_writer.cpp
)
target_link_libraries(flowguard_capture_core
  PUBLIC flowguard_capture_vocabulary flowguard_profiles PkgConfig::PCAP
  PRIVATE fmt::fmt flowguard_warnings)
