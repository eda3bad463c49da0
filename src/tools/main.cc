// ballast: the command line for ballastd's HTTP API (see docs/cli.md).
#include <iostream>

#include "tools/commands.h"

int main(int argc, char** argv) { return ballast::tools::run_cli(argc, argv, std::cin, std::cout, std::cerr); }
