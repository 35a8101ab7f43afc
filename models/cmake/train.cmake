# flowguard-train: data loading, audit, metrics and report (no LibTorch) + model training/export (LibTorch).
set(FG_TRAIN_DIR ${CMAKE_CURRENT_SOURCE_DIR}/train)
add_library(flowguard_train_data STATIC
  ${FG_TRAIN_DIR}/profiles.cpp ${FG_TRAIN_DIR}/dataset.cpp ${FG_TRAIN_DIR}/split.cpp
  ${FG_TRAIN_DIR}/audit.cpp ${FG_TRAIN_DIR}/metrics.cpp ${FG_TRAIN_DIR}/report.cpp)
target_include_directories(flowguard_train_data PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowguard_train_data PUBLIC nlohmann_json::nlohmann_json PRIVATE flowguard_warnings)

# gbdt / rf: XGBoost (Debian libxgboost-dev) trains; trees.cpp compiles the result to TorchScript.
# Only the trainer links XGBoost: the server loads the compiled module (tests/e2e checks its ldd).
# Debian's xgboost CMake config also demands the `xgboost` CLI binary (another package): use the
# library and header directly.
find_library(XGBOOST_LIBRARY NAMES xgboost REQUIRED)
find_path(XGBOOST_INCLUDE_DIR xgboost/c_api.h REQUIRED)
if(NOT TARGET xgboost::xgboost)
  add_library(xgboost::xgboost SHARED IMPORTED)
  set_target_properties(xgboost::xgboost PROPERTIES IMPORTED_LOCATION ${XGBOOST_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${XGBOOST_INCLUDE_DIR})
endif()
add_library(flowguard_train STATIC ${FG_TRAIN_DIR}/model.cpp ${FG_TRAIN_DIR}/commands.cpp
            ${FG_TRAIN_DIR}/trees.cpp ${FG_TRAIN_DIR}/trees_xgboost.cpp)
target_link_libraries(flowguard_train PUBLIC flowguard_train_data flowguard_bundle ${TORCH_LIBRARIES} xgboost::xgboost
                      PRIVATE flowguard_warnings)

add_executable(flowguard-train ${FG_TRAIN_DIR}/main.cpp)
target_link_libraries(flowguard-train PRIVATE flowguard_train CLI11::CLI11 flowguard_warnings)
