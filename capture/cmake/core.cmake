# flowguard_capture_core: everything the capture agent does with packets before they leave the process.
# No LibTorch here, ever. Sources are listed explicitly (no globs) so a stray file never sneaks in.
add_library(flowguard_capture_core STATIC)

# --- decode/ and source/ (packet decoding, libpcap packet sources) ---
target_sources(flowguard_capture_core PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/decode/decoder.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/decode/decode_counters.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/decode/reference_scan.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/source/packet_source.cpp
)

# capture/ is the include root: #include "decode/packet.hpp", "flow/flow_report.hpp", ...
target_include_directories(flowguard_capture_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_capture_core PUBLIC PkgConfig::PCAP PRIVATE flowguard_warnings)

# --- flow/, features/, output/: owned by the feature-profile work, appended in core_features.cmake ---
# (that file does target_sources(flowguard_capture_core PRIVATE ...) and may add link libraries).
include(${CMAKE_CURRENT_LIST_DIR}/core_features.cmake OPTIONAL)
