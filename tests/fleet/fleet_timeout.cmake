# Read by ctest (the directory's TEST_INCLUDE_FILES, after the discovered fleet fault tests) each
# time it runs, so their TIMEOUT follows LOA_FLEET_NODES in ctest's environment, as the tests'
# own leads and waits do (Timings in fleet_fault_test.cpp: a slack of 20 ms per node above 200;
# a test waits on at most four of them, plus one for starting and stopping the processes).
# At the CI size the TIMEOUT stays as gtest_discover_tests set it.
if(DEFINED ENV{LOA_FLEET_NODES})
  set(_loa_fleet_nodes "$ENV{LOA_FLEET_NODES}")
  if(_loa_fleet_nodes MATCHES "^[0-9]+$" AND _loa_fleet_nodes GREATER 200)
    math(EXPR _loa_fleet_timeout "180 + 5 * 20 * (${_loa_fleet_nodes} - 200) / 1000")
    set_tests_properties(${fleet_fault_test_TESTS} PROPERTIES TIMEOUT ${_loa_fleet_timeout})
  endif()
endif()
