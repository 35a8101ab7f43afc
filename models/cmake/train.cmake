# flowguard-train: data loading, audit, metrics and report (no LibTorch) + model training/export (LibTorch).
set(FG_TRAIN_DIR ${CMAKE_CURRENT_SOURCE_DIR}/train)
add_library(flowguard_train_data STATIC
  ${FG_TRAIN_DIR}/profiles.cpp ${FG_TRAIN_DIR}/dataset.cpp ${FG_TRAIN_DIR}/split.cpp
  ${FG_TRAIN_DIR}/audit.cpp ${FG_TRAIN_DIR}/metrics.cpp ${FG_TRAIN_DIR}/report.cpp)
target_include_directories(flowguard_train_data PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
# Feature names come from the capture agent's profile registry (torch-free, pcap-free).
target_link_libraries(flowguard_train_data PUBLIC nlohmann_json::nlohmann_json
                      PRIVATE flowguard_profiles flowguard_warnings)

add_library(flowguard_train STATIC ${FG_TRAIN_DIR}/model.cpp ${FG_TRAIN_DIR}/commands.cpp)
target_link_libraries(flowguard_train PUBLIC flowguard_train_data flowguard_bundle ${TORCH_LIBRARIES}
                      PRIVATE flowguard_warnings)

add_executable(flowguard-train ${FG_TRAIN_DIR}/main.cpp)
target_link_libraries(flowguard-train PRIVATE flowguard_train CLI11::CLI11 flowguard_warnings)
