// The main of every tool: GANAUG_TOOL_COMMAND (set per executable by tools/CMakeLists.txt) names
// its command in commands.hpp.

#include "commands.hpp"

int main(int argc, char** argv) { return ganaug::cli::GANAUG_TOOL_COMMAND(argc, argv); }
