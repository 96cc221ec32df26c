// Child processes for integration tests: started with arguments, output to a log file, stopped
// with a signal. Also a helper to run a command and capture its output.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace loa::test {

class Process {
 public:
  // Starts `argv[0]` with `argv`, stdout and stderr appended to `log_path`. Throws on failure.
  Process(std::vector<std::string> argv, std::string log_path);
  ~Process();  // SIGTERM, then SIGKILL after 5 s
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Sends `signal` and waits for the exit; returns the wait status (or -1 if not running).
  int stop(int signal = 15, int timeout_ms = 5000);
  bool running();
  pid_t pid() const { return pid_; }
  std::string log() const;

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command to completion (no shell), capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv);

// A new empty directory under `root` (default /tmp), removed by the destructor unless
// LOA_KEEP_TMP is set.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "loa-test", const std::string& root = "/tmp");
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace loa::test
