// The main of every benchmark: GANAUG_BENCH_COMMAND (set per executable by bench/CMakeLists.txt)
// names its function in commands.hpp.

#include "commands.hpp"

int main(int argc, char** argv) { return ganaug::bench::GANAUG_BENCH_COMMAND(argc, argv); }
