#pragma once
/// The benchmarks, one per executable: each parses its command line, measures, prints (and can
/// write a markdown snippet), and returns the process's exit status. They live in ganaug_bench,
/// compiled together; the executables' mains (bench_main.cpp) only call one.

namespace ganaug::bench {

int run_load(int argc, char** argv);        ///< bench_load (bench_load.cpp)
int run_gan(int argc, char** argv);         ///< bench_gan (bench_gan.cpp)
int run_generate(int argc, char** argv);    ///< bench_generate (bench_generate.cpp)
int run_classifier(int argc, char** argv);  ///< bench_classifier (bench_classifier.cpp)

}  // namespace ganaug::bench
