# nlohmann/json headers from the bundle of bench/gpu/make_deps_bundle.sh (Debian 12).
get_filename_component(_ganaug_deps "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_ganaug_deps}/include")
endif()
set(nlohmann_json_FOUND TRUE)
