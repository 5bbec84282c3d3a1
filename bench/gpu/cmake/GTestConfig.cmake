# GoogleTest for bench/gpu/run.sh: built here from the sources in the bundle (Debian 12's
# googletest 1.12.1, /usr/src/googletest) with this machine's compiler, so that the tests and
# the library agree on its headers and ABI.
get_filename_component(_ganaug_deps "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
find_package(Threads REQUIRED)
if(NOT TARGET ganaug_gtest)
  set(_gtest "${_ganaug_deps}/src/googletest/googletest")
  add_library(ganaug_gtest STATIC "${_gtest}/src/gtest-all.cc")
  target_include_directories(ganaug_gtest SYSTEM PUBLIC "${_gtest}/include")
  target_include_directories(ganaug_gtest PRIVATE "${_gtest}")
  target_link_libraries(ganaug_gtest PUBLIC Threads::Threads)
  add_library(ganaug_gtest_main STATIC "${_gtest}/src/gtest_main.cc")
  target_link_libraries(ganaug_gtest_main PUBLIC ganaug_gtest)
  add_library(GTest::gtest ALIAS ganaug_gtest)
  add_library(GTest::gtest_main ALIAS ganaug_gtest_main)
endif()
set(GTest_FOUND TRUE)
