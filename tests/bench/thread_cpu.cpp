#include "thread_cpu.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loa::bench {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Fields of a stat line after "(comm)": field 3 is the state, 4 the ppid, 14/15 utime/stime.
std::vector<std::string> stat_fields_after_comm(const std::string& stat) {
  std::vector<std::string> out;
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream in(stat.substr(close + 1));
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

std::string comm_of(const std::string& stat) {
  const auto open = stat.find('(');
  const auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  return stat.substr(open + 1, close - open - 1);
}

}  // namespace

double cpu_seconds(pid_t pid, pid_t tid) {
  const std::string path = "/proc/" + std::to_string(pid) +
                           (tid ? "/task/" + std::to_string(tid) : std::string()) + "/stat";
  const auto f = stat_fields_after_comm(read_file(path));
  // After the comm, index 0 is field 3 (state): utime is field 14 -> index 11, stime index 12.
  if (f.size() < 13) return -1;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

std::vector<pid_t> child_pids(const std::string& comm) {
  std::vector<pid_t> out;
  const pid_t self = ::getpid();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    const auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (err != std::errc() || ptr != name.data() + name.size()) continue;
    const std::string stat = read_file(entry.path().string() + "/stat");
    const auto f = stat_fields_after_comm(stat);
    if (f.size() < 2 || comm_of(stat) != comm) continue;
    if (std::stoi(f[1]) == self) out.push_back(pid);
  }
  return out;
}

std::set<pid_t> ThreadCpu::thread_ids() {
  std::set<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/task", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t tid = 0;
    const auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), tid);
    if (err == std::errc() && ptr == name.data() + name.size()) out.insert(tid);
  }
  return out;
}

std::size_t ThreadCpu::label_new(const std::set<pid_t>& before,
                                 const std::vector<std::string>& labels) {
  std::size_t i = 0;
  for (pid_t tid : thread_ids()) {
    if (before.count(tid) || labels_.count(tid)) continue;
    const std::string& label =
        labels.empty() ? std::string("?") : labels[std::min(i, labels.size() - 1)];
    labels_[tid] = label;
    std::ofstream("/proc/self/task/" + std::to_string(tid) + "/comm") << label.substr(0, 15);
    ++i;
  }
  return i;
}

void ThreadCpu::label_self(const std::string& label) {
  const pid_t tid = static_cast<pid_t>(::gettid());
  labels_[tid] = label;
  std::ofstream("/proc/self/task/" + std::to_string(tid) + "/comm") << label.substr(0, 15);
}

std::map<std::string, double> ThreadCpu::by_label() const {
  std::map<std::string, double> out;
  const pid_t self = ::getpid();
  for (pid_t tid : thread_ids()) {
    const double s = cpu_seconds(self, tid);
    if (s < 0) continue;
    const auto it = labels_.find(tid);
    out[it == labels_.end() ? "other" : it->second] += s;
  }
  return out;
}

std::vector<ThreadCpu::Busy> ThreadCpu::busiest(std::size_t n) const {
  std::vector<Busy> all;
  const pid_t self = ::getpid();
  for (pid_t tid : thread_ids()) {
    const double s = cpu_seconds(self, tid);
    if (s < 0) continue;
    const auto it = labels_.find(tid);
    all.push_back(Busy{it == labels_.end() ? "other" : it->second, tid, s});
  }
  std::sort(all.begin(), all.end(),
            [](const Busy& a, const Busy& b) { return a.seconds > b.seconds; });
  if (all.size() > n) all.resize(n);
  return all;
}

}  // namespace loa::bench
