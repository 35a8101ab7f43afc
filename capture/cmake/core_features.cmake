# flow/, features/, output/ of flowguard_capture_core (included by core.cmake).
target_sources(flowguard_capture_core PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/features/profile.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/features/cicids2017.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/features/corrected.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/flow/flow_table.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/flow/flow_engine.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/output/java_format.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/output/csv_writer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/output/stats_text.cpp
)
target_link_libraries(flowguard_capture_core PRIVATE fmt::fmt)
