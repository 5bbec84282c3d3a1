# Sanitizer and fuzzing builds. Both apply to every target of the project (compile and link), so
# the shared precompiled torch header, the libraries, tests, tools and fuzzers agree on flags.
#
#   -DGANAUG_SANITIZE=address,undefined   any comma list that -fsanitize= takes (clang or GCC)
#   -DGANAUG_FUZZ=ON                      clang only: libFuzzer targets in fuzz/; every target gets
#                                         coverage instrumentation (-fsanitize=fuzzer-no-link)
#
# LibTorch, OpenCV and the other system libraries stay uninstrumented: ASan still sees their heap
# through its malloc interceptors, but not their out-of-bounds accesses inside them.
# Runtime defaults for executables (leak detection, initialisation order, halt on UB) are
# compiled in from cmake/sanitizer_defaults.cpp by ganaug_link_sanitizer_defaults(), called at
# the end of the top-level CMakeLists.txt; ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS still
# override them.

set(GANAUG_SANITIZE "" CACHE STRING
    "Comma list of sanitizers for every target, e.g. address,undefined (empty: none)")
option(GANAUG_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)

if(GANAUG_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "GANAUG_FUZZ needs clang (libFuzzer); configure with CXX=clang++")
endif()
# The coverage callbacks of every target come from a sanitizer runtime: without one, the tests
# and tools of a fuzz build do not link.
if(GANAUG_FUZZ AND NOT GANAUG_SANITIZE)
  message(FATAL_ERROR "GANAUG_FUZZ needs GANAUG_SANITIZE (address,undefined recommended)")
endif()

if(GANAUG_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "GANAUG_SANITIZE needs GCC or clang")
  endif()
  string(REPLACE "," ";" _ganaug_sanitizers "${GANAUG_SANITIZE}")
  set(_ganaug_flags -fsanitize=${GANAUG_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _ganaug_sanitizers)
    # Undefined behaviour fails the test instead of printing and going on.
    list(APPEND _ganaug_flags -fno-sanitize-recover=undefined)
  endif()
  # Line tables are enough for symbolised reports and cost little compile time.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND _ganaug_flags -gline-tables-only)
  else()
    list(APPEND _ganaug_flags -g1)
  endif()
  add_compile_options(${_ganaug_flags})
  add_link_options(-fsanitize=${GANAUG_SANITIZE})
  message(STATUS "ganaug: sanitizers ${GANAUG_SANITIZE} on every target")
endif()

if(GANAUG_FUZZ)
  # Coverage for every target; the fuzz executables add -fsanitize=fuzzer (libFuzzer's main).
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()

# Links the runtime defaults into every executable under `directory` (not into libraries: they
# are the program's choice, not the library's). Call once, after all add_subdirectory() calls.
function(ganaug_link_sanitizer_defaults directory)
  if(NOT GANAUG_SANITIZE)
    return()
  endif()
  if(NOT TARGET ganaug_sanitizer_defaults)
    add_library(ganaug_sanitizer_defaults OBJECT
                "${PROJECT_SOURCE_DIR}/cmake/sanitizer_defaults.cpp")
  endif()
  get_property(targets DIRECTORY "${directory}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_link_libraries(${target} PRIVATE ganaug_sanitizer_defaults)
    endif()
  endforeach()
  get_property(subdirectories DIRECTORY "${directory}" PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    ganaug_link_sanitizer_defaults("${subdirectory}")
  endforeach()
endfunction()
