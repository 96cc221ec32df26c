#include "loa/node/wav_sink.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace loa::node {
namespace {

constexpr std::size_t kHeaderSize = 44;

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

std::array<std::uint8_t, kHeaderSize> header(std::uint32_t rate, std::uint8_t channels,
                                             std::uint64_t data_bytes) {
  std::array<std::uint8_t, kHeaderSize> h{};
  const auto data = static_cast<std::uint32_t>(data_bytes);
  std::memcpy(h.data(), "RIFF", 4);
  put_u32(h.data() + 4, 36 + data);
  std::memcpy(h.data() + 8, "WAVEfmt ", 8);
  put_u32(h.data() + 16, 16);
  put_u16(h.data() + 20, 1);  // PCM
  put_u16(h.data() + 22, channels);
  put_u32(h.data() + 24, rate);
  put_u32(h.data() + 28, rate * channels * 2);
  put_u16(h.data() + 32, static_cast<std::uint16_t>(channels * 2));
  put_u16(h.data() + 34, 16);
  std::memcpy(h.data() + 36, "data", 4);
  put_u32(h.data() + 40, data);
  return h;
}

}  // namespace

WavSink::WavSink(runtime::Clock& clock, std::string path, PathFor path_for)
    : clock_(clock),
      path_(std::move(path)),
      path_for_(std::move(path_for)),
      pacer_(clock_, 48000) {}

WavSink::~WavSink() {
  close();
}

loa::Status WavSink::open(std::uint32_t rate, std::uint8_t channels) {
  close();
  if (rate == 0 || channels == 0) return make_error("wav sink: rate and channels must be > 0");
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) return make_error("wav sink '" + path_ + "': open: " + std::strerror(errno));
  rate_ = rate;
  channels_ = channels;
  data_bytes_ = 0;
  pacer_.restart(rate);
  const auto h = header(rate_, channels_, 0);
  if (std::fwrite(h.data(), 1, h.size(), file_) != h.size()) {
    return make_error("wav sink '" + path_ + "': write: " + std::strerror(errno));
  }
  return {};
}

loa::Status WavSink::write(std::span<const std::int16_t> samples) {
  if (!file_) return make_error("wav sink '" + path_ + "': write before open");
  // WAV is little-endian whatever the host is.
  std::vector<std::uint8_t> bytes(samples.size() * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto v = static_cast<std::uint16_t>(samples[i]);
    bytes[2 * i] = static_cast<std::uint8_t>(v);
    bytes[2 * i + 1] = static_cast<std::uint8_t>(v >> 8);
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return make_error("wav sink '" + path_ + "': write: " + std::strerror(errno));
  }
  data_bytes_ += bytes.size();
  pacer_.advance(samples.size() / channels_);
  return {};
}

void WavSink::close() {
  finish_file(true);
}

bool WavSink::continue_with(std::uint64_t occurrence_id) {
  if (!file_ || !path_for_) return false;
  // No fsync here: it would delay the next playback's first write.
  finish_file(false);
  path_ = path_for_(occurrence_id);
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) return false;
  data_bytes_ = 0;
  const auto h = header(rate_, channels_, 0);
  return std::fwrite(h.data(), 1, h.size(), file_) == h.size();
}

void WavSink::finish_file(bool sync) {
  if (!file_) return;
  const auto h = header(rate_, channels_, data_bytes_);
  if (std::fseek(file_, 0, SEEK_SET) == 0) std::fwrite(h.data(), 1, h.size(), file_);
  std::fflush(file_);
  if (sync) ::fsync(::fileno(file_));
  std::fclose(file_);
  file_ = nullptr;
}

}  // namespace loa::node
