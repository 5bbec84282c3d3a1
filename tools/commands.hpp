#pragma once
/// The tools' commands, one per executable: each parses its command line, runs, prints, and
/// returns the process's exit status (0 done, 1 failed, 2 bad command line, 130 interrupted).
/// They live in ganaug_cli, compiled together; the executables' mains (tool_main.cpp) only call
/// one, so that a main includes no LibTorch header.

namespace ganaug::cli {

int run_augment(int argc, char** argv);        ///< augment (augment.cpp)
int run_augment_bench(int argc, char** argv);  ///< augment-bench (augment_bench.cpp)
int run_merge(int argc, char** argv);          ///< augment-merge (merge.cpp)
int run_export(int argc, char** argv);         ///< ganaug-export (export.cpp)
int run_info(int argc, char** argv);           ///< ganaug-info (info.cpp)

}  // namespace ganaug::cli
