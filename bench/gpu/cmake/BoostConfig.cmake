# Boost.Program_options and the header-only libraries (Boost.Math) from the bundle of
# bench/gpu/make_deps_bundle.sh (Debian 12's 1.74).
get_filename_component(_ganaug_deps "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT TARGET Boost::program_options)
  add_library(Boost::program_options SHARED IMPORTED)
  set_target_properties(Boost::program_options PROPERTIES
    IMPORTED_LOCATION "${_ganaug_deps}/lib/libboost_program_options.so.1.74.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_ganaug_deps}/include")
endif()
if(NOT TARGET Boost::headers)
  add_library(Boost::headers INTERFACE IMPORTED)
  set_target_properties(Boost::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_ganaug_deps}/include")
endif()
set(Boost_VERSION 1.74.0)
set(Boost_INCLUDE_DIRS "${_ganaug_deps}/include")
set(Boost_program_options_FOUND TRUE)
set(Boost_headers_FOUND TRUE)
set(Boost_FOUND TRUE)
