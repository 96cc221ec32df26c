#include "loa/runtime/sequence.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "loa/runtime/files.hpp"
#include "loa/runtime/log.hpp"

namespace loa::runtime {

SequenceCounter::SequenceCounter(std::uint64_t reserved, Reserve reserve, std::uint64_t step)
    : last_(reserved),
      reserved_(reserved),
      reserve_(std::move(reserve)),
      step_(std::max<std::uint64_t>(step, 1)) {}

std::uint64_t SequenceCounter::next(protocol::Micros floor_us) {
  std::lock_guard lock(mu_);
  const auto floor = static_cast<std::uint64_t>(std::max<protocol::Micros>(floor_us, 0));
  const std::uint64_t value = std::max(last_ + 1, floor);
  last_ = value;
  if (value <= reserved_ || !reserve_) {
    reserved_ = std::max(reserved_, value);
    return value;
  }
  const std::uint64_t through =
      value > std::numeric_limits<std::uint64_t>::max() - step_ ? value : value + step_;
  if (Status s = reserve_(through); !s) {
    if (!failing_) {
      Log(LogLevel::error, "sequence").kv("sequence", value)
          << "envelope sequence not reserved durably (used anyway): " << s.message();
    }
    failing_ = true;
    return value;
  }
  if (failing_) Log(LogLevel::info, "sequence") << "envelope sequence reserved durably again";
  failing_ = false;
  reserved_ = through;
  return value;
}

Result<std::uint64_t> read_sequence_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::uint64_t{0};
    return make_error("sequence file '" + path + "': cannot open: " + std::strerror(errno));
  }
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 0)
    return make_error("sequence file '" + path + "': cannot read: " + std::strerror(errno));
  std::string_view text(buf, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return make_error("sequence file '" + path + "': not one decimal number");
  }
  return value;
}

Status write_sequence_file(const std::string& path, std::uint64_t value) {
  const std::string text = std::to_string(value) + "\n";
  if (Status s = write_file_atomic(
          path,
          protocol::ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      !s) {
    return make_error("sequence file '" + path + "': cannot write: " + s.message());
  }
  return {};
}

}  // namespace loa::runtime
