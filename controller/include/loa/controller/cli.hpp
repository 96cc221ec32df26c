// loactl: the command-line client of the controller's HTTP API.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace loa::controller {

// Runs one loactl command (`args` without the program name). Prints results on `out` in the
// chosen --format (table, json or csv) and one clear line on `err` on failure. Returns the exit
// code: 0 on success, 1 when the controller refused, 2 on bad usage or an unreachable controller.
int run_loactl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The bearer token loactl sends: $LOA_TOKEN, else the first line of `token_file`, of
// $LOA_TOKEN_FILE, or of the controller's default local token file (here, then in
// /var/lib/loa-controller); "" when none can be read.
std::string loactl_token(const std::string& token_file);

// The usage text `loactl --help` prints.
std::string loactl_usage();

}  // namespace loa::controller
