#include "loa/runtime/options.hpp"

#include <fstream>
#include <iostream>

namespace loa::runtime {

bool parse_options(int argc, char** argv, const po::options_description& options,
                   po::variables_map& vm, const std::string& program, const std::string& usage) {
  po::options_description generic("General");
  generic.add_options()("help,h", "print this help and exit")(
      "version", "print the version and exit")("config", po::value<std::string>(),
                                               "read options from this file (key = value lines)");
  po::options_description all;
  all.add(generic).add(options);

  po::store(po::parse_command_line(argc, argv, all), vm);
  if (vm.count("help")) {
    std::cout << "Usage: " << program << " " << usage << "\n\n" << all << "\n";
    return false;
  }
  if (vm.count("version")) {
    std::cout << program << " " << LOA_VERSION << "\n";
    return false;
  }
  if (vm.count("config")) {
    const std::string path = vm["config"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw po::error("cannot open config file '" + path + "'");
    // Command-line values were stored first, so they win over the file.
    po::store(po::parse_config_file(in, options), vm);
  }
  po::notify(vm);
  return true;
}

}  // namespace loa::runtime
