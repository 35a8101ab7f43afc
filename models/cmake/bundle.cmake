# Manifest parsing (no LibTorch) and bundle load/validate/save (LibTorch).
add_library(flowguard_manifest STATIC ${CMAKE_CURRENT_SOURCE_DIR}/bundle/manifest.cpp)
target_include_directories(flowguard_manifest PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_manifest PUBLIC nlohmann_json::nlohmann_json PRIVATE flowguard_warnings)

add_library(flowguard_bundle STATIC ${CMAKE_CURRENT_SOURCE_DIR}/bundle/bundle.cpp)
target_include_directories(flowguard_bundle PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_bundle PUBLIC flowguard_manifest ${TORCH_LIBRARIES} PRIVATE OpenSSL::Crypto flowguard_warnings)
