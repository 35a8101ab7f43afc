# Flow engine, feature profiles and CSV output tests (owned by the feature-profile work), plus the
# parity acceptance test against the reference CSVs in ${FLOWGUARD_SHARED_DIR}/data/parity.
foreach(test_name test_flow_engine test_profile_cicids2017 test_profile_corrected test_csv_format)
  add_executable(${test_name} ${CMAKE_CURRENT_SOURCE_DIR}/${test_name}.cpp)
  target_include_directories(${test_name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${test_name} PRIVATE flowguard_capture_core flowguard_catch_main flowguard_warnings)
  catch_discover_tests(${test_name} TEST_PREFIX "capture/"
                       PROPERTIES ENVIRONMENT "FLOWGUARD_SHARED_DIR=${FLOWGUARD_SHARED_DIR}")
endforeach()

# flowguard-capture end to end on a pcap the test writes (uses the decoder tests' frame fixtures).
if(TARGET flowguard-capture AND TARGET flowguard_capture_fixtures)
  add_executable(test_csv_app ${CMAKE_CURRENT_SOURCE_DIR}/test_csv_app.cpp)
  target_link_libraries(test_csv_app PRIVATE flowguard_capture_fixtures flowguard_capture_core
                        flowguard_catch_main flowguard_warnings)
  target_compile_definitions(test_csv_app PRIVATE FLOWGUARD_CAPTURE_BINARY="$<TARGET_FILE:flowguard-capture>")
  add_dependencies(test_csv_app flowguard-capture)
  catch_discover_tests(test_csv_app TEST_PREFIX "capture/")
endif()

# flowguard-capture on a veth pair in network namespaces the script creates (label live; root only).
if(TARGET flowguard-capture)
  add_test(NAME capture/flow_live_veth
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_flow_live.sh $<TARGET_FILE:flowguard-capture>)
  set_tests_properties(capture/flow_live_veth PROPERTIES LABELS live SKIP_RETURN_CODE 77 TIMEOUT 60)
endif()

# Parity (label dataset): flowguard-capture on every parity capture, both profiles, checked with the
# shared cmpflows.py and a strict field-by-field comparison. Exit 77 (skipped) without the shared dir.
if(TARGET flowguard-capture)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    foreach(profile corrected cicids2017)
      add_test(NAME capture/parity/${profile}
               COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/parity/run_parity.py
                       --capture $<TARGET_FILE:flowguard-capture> --shared ${FLOWGUARD_SHARED_DIR}
                       --profile ${profile} --work ${CMAKE_CURRENT_BINARY_DIR}/parity-${profile})
      set_tests_properties(capture/parity/${profile} PROPERTIES LABELS dataset SKIP_RETURN_CODE 77 TIMEOUT 600)
    endforeach()
  endif()
endif()
