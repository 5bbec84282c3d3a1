// Default options of the sanitizer runtimes, linked into every executable of a GANAUG_SANITIZE
// build (see GanaugSanitize.cmake); the runtimes call these hooks before main. ASAN_OPTIONS,
// UBSAN_OPTIONS and LSAN_OPTIONS in the environment override them.
//
// Measured with Debian 12's uninstrumented libtorch 1.13, libgomp, oneTBB and OpenCV 4.6: the
// whole test suite and the fuzzers run clean with leak detection on, strict initialisation
// order and the vptr check, so no suppressions are needed.

extern "C" {

const char* __asan_default_options() {
  return "detect_leaks=1:check_initialization_order=1:strict_init_order=1:"
         "detect_stack_use_after_return=1";
}

const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

}  // extern "C"
