# Installing ganaug as a CMake package. Each layer has its own export set, so that a program
# using only the core (LibTorch) needs neither OpenCV nor oneTBB:
#   find_package(ganaug 0.5 REQUIRED)                    # every installed layer
#   find_package(ganaug 0.5 REQUIRED COMPONENTS core)    # ganaug::ganaug only
include(CMakePackageConfigHelpers)

set(GANAUG_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ganaug" CACHE STRING
    "Where the CMake package files of ganaug are installed")
set_property(GLOBAL PROPERTY GANAUG_INSTALLED_LAYERS "")

# Installs the export set ganaug-<layer>-targets, namespace ganaug::.
function(ganaug_install_export layer)
  install(EXPORT ganaug-${layer}-targets NAMESPACE ganaug::
          DESTINATION "${GANAUG_INSTALL_CMAKEDIR}")
  set_property(GLOBAL APPEND PROPERTY GANAUG_INSTALLED_LAYERS ${layer})
endfunction()

# The package config and version files; call after every layer was added.
function(ganaug_install_package)
  get_property(GANAUG_LAYERS GLOBAL PROPERTY GANAUG_INSTALLED_LAYERS)
  configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/ganaugConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/ganaugConfig.cmake"
    INSTALL_DESTINATION "${GANAUG_INSTALL_CMAKEDIR}")
  # 0.x: a minor version may change the API, so 0.5 accepts 0.5.y only.
  write_basic_package_version_file("${PROJECT_BINARY_DIR}/ganaugConfigVersion.cmake"
                                   VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES "${PROJECT_BINARY_DIR}/ganaugConfig.cmake"
                "${PROJECT_BINARY_DIR}/ganaugConfigVersion.cmake"
          DESTINATION "${GANAUG_INSTALL_CMAKEDIR}")
endfunction()
