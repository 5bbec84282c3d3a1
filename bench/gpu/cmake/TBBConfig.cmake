# oneTBB from the bundle of bench/gpu/make_deps_bundle.sh (Debian 12's libtbb12).
get_filename_component(_ganaug_deps "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT TARGET TBB::tbb)
  add_library(TBB::tbb SHARED IMPORTED)
  set_target_properties(TBB::tbb PROPERTIES
    IMPORTED_LOCATION "${_ganaug_deps}/lib/libtbb.so.12"
    INTERFACE_INCLUDE_DIRECTORIES "${_ganaug_deps}/include")
endif()
set(TBB_VERSION 2021.8.0)
set(TBB_FOUND TRUE)
