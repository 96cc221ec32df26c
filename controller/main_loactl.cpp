// loactl: the command-line client of loa-controller's HTTP API.
#include <iostream>
#include <string>
#include <vector>

#include "loa/controller/cli.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return loa::controller::run_loactl(args, std::cout, std::cerr);
}
