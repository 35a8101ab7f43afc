# gbdt / rf tests. test_trees links XGBoost (through flowguard_train) for the reference predictions and
# the real in-process inference server (tests/inference/support) for the round trip.
add_executable(test_trees test_trees.cpp)
target_include_directories(test_trees PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_trees PRIVATE flowguard_train flowguard_test_infer_support flowguard_catch_main
                      flowguard_warnings)
catch_discover_tests(test_trees TEST_PREFIX "models/trees/" PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                     TIMEOUT 300)

# gbdt and rf on the shared corrected CIC-IDS2017 sample (label `dataset`; exits 77 = skipped when absent).
add_executable(test_trees_dataset test_trees_dataset.cpp)
target_include_directories(test_trees_dataset PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_trees_dataset PRIVATE flowguard_train flowguard_warnings)
add_test(NAME models/trees/gbdt_and_rf_on_shared_data
         COMMAND test_trees_dataset ${FLOWGUARD_SHARED_DIR}/data/cicids2017-improved)
set_tests_properties(models/trees/gbdt_and_rf_on_shared_data PROPERTIES LABELS dataset SKIP_RETURN_CODE 77
                     ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 900)
