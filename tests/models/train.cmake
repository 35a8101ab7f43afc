# flowguard-train tests: data/metrics/report (no LibTorch) and model training/export (LibTorch).
add_executable(test_train_data test_train_data.cpp)
target_include_directories(test_train_data PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_train_data PRIVATE flowguard_train_data flowguard_catch_main flowguard_warnings)
catch_discover_tests(test_train_data TEST_PREFIX "models/train/")

add_executable(test_train_model test_train_model.cpp)
target_include_directories(test_train_model PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_train_model PRIVATE flowguard_train flowguard_catch_main flowguard_warnings)
catch_discover_tests(test_train_model TEST_PREFIX "models/train/" PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

# The shipped default model on the shared data (label `dataset`; exits 77 = skipped when absent).
add_executable(test_train_dataset test_train_dataset.cpp)
target_link_libraries(test_train_dataset PRIVATE flowguard_train nlohmann_json::nlohmann_json flowguard_warnings)
add_test(NAME models/train/shipped_model_on_shared_data
         COMMAND test_train_dataset ${FLOWGUARD_SHARED_DIR}/data/cicids2017-improved
                 ${CMAKE_SOURCE_DIR}/models/default)
set_tests_properties(models/train/shipped_model_on_shared_data PROPERTIES LABELS dataset SKIP_RETURN_CODE 77
                     ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

# The command line: a bad model path is a clear one-line error, not a crash.
add_test(NAME models/train/cli_names_a_missing_model
         COMMAND flowguard-train evaluate --model /nonexistent/model.pt --data /nonexistent)
set_tests_properties(models/train/cli_names_a_missing_model PROPERTIES
                     PASS_REGULAR_EXPRESSION "flowguard-train: model bundle '/nonexistent/model.pt' does not exist")
