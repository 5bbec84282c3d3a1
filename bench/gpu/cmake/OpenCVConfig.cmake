# OpenCV core/imgproc/imgcodecs from a bundle made by bench/gpu/make_deps_bundle.sh (Debian 12's
# libraries, copied), for building ganaug on a machine that has LibTorch but not Debian's packages.
get_filename_component(_ganaug_deps "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(OpenCV_VERSION 4.6.0)
set(OpenCV_INCLUDE_DIRS "${_ganaug_deps}/include/opencv4")
set(OpenCV_LIBS)
foreach(_m core imgproc imgcodecs)
  if(NOT TARGET opencv_${_m})
    add_library(opencv_${_m} SHARED IMPORTED)
    set_target_properties(opencv_${_m} PROPERTIES
      IMPORTED_LOCATION "${_ganaug_deps}/lib/libopencv_${_m}.so.406"
      INTERFACE_INCLUDE_DIRECTORIES "${_ganaug_deps}/include/opencv4")
  endif()
  list(APPEND OpenCV_LIBS opencv_${_m})
  set(OpenCV_${_m}_FOUND TRUE)
endforeach()
set(OpenCV_FOUND TRUE)
