# Capture-agent benchmarks (run by hand, never by ctest). One include per part so parallel work does
# not collide: bench/capture/decode.cmake (decoder, packet sources), bench/capture/features.cmake
# (flow table, feature profiles).
foreach(part decode features)
  include(${CMAKE_CURRENT_LIST_DIR}/capture/${part}.cmake OPTIONAL)
endforeach()
