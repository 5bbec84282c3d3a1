# One interface target carries the project's warning flags; every ganaug target links it
# privately so that users of the installed package do not inherit them.
add_library(ganaug_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(ganaug_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
endif()

# Reuse one precompiled <torch/torch.h> across targets: a clean build pays ~25 s once instead of
# once per translation unit.
function(ganaug_torch_pch target)
  if(NOT GANAUG_USE_PCH)
    return()
  endif()
  if(NOT TARGET ganaug_torch_pch)
    add_library(ganaug_torch_pch STATIC "${PROJECT_SOURCE_DIR}/cmake/torch_pch.cpp")
    target_link_libraries(ganaug_torch_pch PUBLIC ${TORCH_LIBRARIES})
    # Same flags as its users, or GCC silently ignores the precompiled header.
    target_link_libraries(ganaug_torch_pch PRIVATE ganaug_warnings)
    target_precompile_headers(ganaug_torch_pch PRIVATE <torch/torch.h>)
    # Clang writes the header's time into the precompiled header, and a compiler cache that
    # restores it makes every user fail the time check: leave the time out (ccache's manual).
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      target_compile_options(ganaug_torch_pch PRIVATE -Xclang -fno-pch-timestamp)
    endif()
  endif()
  target_precompile_headers(${target} REUSE_FROM ganaug_torch_pch)
endfunction()
