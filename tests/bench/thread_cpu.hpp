// CPU time per thread of this process (and of one child process) from /proc, grouped by who
// started the thread: the fleet benchmark's answer to "which thread is busy". Linux only.
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace loa::bench {

// User + system CPU seconds of a process or of one thread ("/proc/<pid>/task/<tid>/stat");
// -1 when it cannot be read (the thread has exited).
double cpu_seconds(pid_t pid, pid_t tid = 0);
// The pids of this process's children whose command name is `comm` (e.g. "mosquitto").
std::vector<pid_t> child_pids(const std::string& comm);

// Not thread-safe: used from the benchmark's main thread.
class ThreadCpu {
 public:
  // The ids of this process's threads now.
  static std::set<pid_t> thread_ids();
  // Labels the threads that exist now and were not in `before`, in creation (tid) order: the
  // i-th new thread gets `labels[i]` (the last label repeats if there are more threads). Also
  // writes the label into the thread's name (/proc/self/task/<tid>/comm, 15 characters) so
  // `top -H` shows it. Returns how many threads were new.
  std::size_t label_new(const std::set<pid_t>& before, const std::vector<std::string>& labels);
  // Labels the calling thread.
  void label_self(const std::string& label);
  // CPU seconds per label now, summed over the labelled threads still alive; unlabelled
  // threads are summed under "other".
  std::map<std::string, double> by_label() const;
  // The `n` busiest threads now: label, tid, CPU seconds.
  struct Busy {
    std::string label;
    pid_t tid = 0;
    double seconds = 0;
  };
  std::vector<Busy> busiest(std::size_t n) const;

 private:
  std::map<pid_t, std::string> labels_;
};

}  // namespace loa::bench
