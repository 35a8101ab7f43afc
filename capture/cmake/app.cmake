# flowguard-capture: the capture agent executable. Never links LibTorch.
add_executable(flowguard-capture
  ${CMAKE_CURRENT_SOURCE_DIR}/app/main.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/app/options.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/app/pipeline.cpp
)
target_link_libraries(flowguard-capture PRIVATE flowguard_capture_core CLI11::CLI11 fmt::fmt flowguard_warnings)
target_compile_definitions(flowguard-capture PRIVATE FLOWGUARD_VERSION="${PROJECT_VERSION}")

# Optional parts plug in through app/extension.hpp when their library and extension header exist
# (switch them off to build the bare agent: -DFLOWGUARD_CAPTURE_LINK=OFF / -DFLOWGUARD_CAPTURE_ENFORCE=OFF).
option(FLOWGUARD_CAPTURE_LINK "Build the server link into flowguard-capture when available" ON)
option(FLOWGUARD_CAPTURE_ENFORCE "Build enforcement into flowguard-capture when available" ON)
if(FLOWGUARD_CAPTURE_LINK AND TARGET flowguard_capture_link AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/link/link_extension.hpp)
  target_link_libraries(flowguard-capture PRIVATE flowguard_capture_link)
  target_compile_definitions(flowguard-capture PRIVATE FLOWGUARD_WITH_LINK)
endif()
if(FLOWGUARD_CAPTURE_ENFORCE AND TARGET flowguard_enforce AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/enforce/enforce_extension.hpp)
  target_link_libraries(flowguard-capture PRIVATE flowguard_enforce)
  target_compile_definitions(flowguard-capture PRIVATE FLOWGUARD_WITH_ENFORCE)
endif()
install(TARGETS flowguard-capture RUNTIME DESTINATION bin)
