// ballast: the command line for ballastd's HTTP API (docs/cli.md).
#include <cstdlib>
#include <iostream>

#include "tools/cli.h"

int main(int argc, char** argv) {
  ballast::tools::CliEnvironment environment;
  const char* server = std::getenv("BALLAST_SERVER");
  if (server != nullptr && *server != '\0') environment.server = server;
  ballast::tools::Console console{std::cin, std::cout, std::cerr};
  return static_cast<int>(ballast::tools::run_cli(argc, argv, environment, console));
}
