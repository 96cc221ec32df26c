// Command line and config file through Boost.Program_options: every config-file key is also a
// --flag of the same name; the command line wins. The config file is "key = value" lines.
#pragma once

#include <boost/program_options.hpp>
#include <string>

namespace loa::runtime {

namespace po = boost::program_options;

// Parses argv, then the file named by --config (if given). Adds --config, --help and --version.
// Returns false after printing help or the version (the caller exits 0). Throws
// po::error (with a message naming the option) on bad input: mains catch it once.
bool parse_options(int argc, char** argv, const po::options_description& options,
                   po::variables_map& vm, const std::string& program, const std::string& usage);

}  // namespace loa::runtime
