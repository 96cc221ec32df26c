#include "audio_test_util.hpp"

#include <opus.h>
#include <sndfile.h>
#include <stdlib.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <stdexcept>

namespace loa::test_audio {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/loa-audio-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<float> sine(std::uint32_t rate, int channels, double seconds, double freq,
                        double amplitude) {
  const auto frames = static_cast<std::size_t>(std::llround(seconds * rate));
  std::vector<float> out(frames * static_cast<std::size_t>(channels));
  for (std::size_t i = 0; i < frames; ++i) {
    const auto v = static_cast<float>(
        amplitude * std::sin(2 * std::numbers::pi * freq * static_cast<double>(i) / rate));
    for (int c = 0; c < channels; ++c)
      out[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] = v;
  }
  return out;
}

std::vector<float> speech_like(std::uint32_t rate, double seconds) {
  const auto frames = static_cast<std::size_t>(std::llround(seconds * rate));
  std::vector<float> out(frames);
  std::uint32_t noise = 12345;
  for (std::size_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    double v = 0;
    for (int h = 1; h <= 12; ++h) {
      v += std::sin(2 * std::numbers::pi * 130.0 * h * t * (1.0 + 0.05 * std::sin(t))) / h;
    }
    noise = noise * 1664525u + 1013904223u;
    v += (static_cast<double>(noise >> 8) / (1 << 24) - 0.5) * 0.3;
    const double syllable = std::max(0.0, std::sin(2 * std::numbers::pi * 4.0 * t));
    const bool pause = std::fmod(t, 3.0) > 2.4;  // 0.6 s pause every 3 s
    out[i] = pause ? 0.0f : static_cast<float>(0.2 * v * syllable);
  }
  return out;
}

std::string write_sound_file(const std::string& path, int format, std::uint32_t rate, int channels,
                             const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = static_cast<int>(rate);
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) return sf_strerror(nullptr);
  const sf_count_t frames = static_cast<sf_count_t>(interleaved.size()) / channels;
  const sf_count_t wrote = sf_writef_float(f, interleaved.data(), frames);
  std::string err = wrote == frames ? "" : sf_strerror(f);
  sf_close(f);
  return err;
}

std::vector<std::int16_t> read_sound_file_i16(const std::string& path, int& channels, int& rate) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f == nullptr) return {};
  std::vector<std::int16_t> pcm(static_cast<std::size_t>(info.frames * info.channels));
  const sf_count_t got = sf_readf_short(f, pcm.data(), info.frames);
  sf_close(f);
  pcm.resize(static_cast<std::size_t>(got * info.channels));
  channels = info.channels;
  rate = info.samplerate;
  return pcm;
}

protocol::Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return protocol::Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const protocol::Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

CommandOutput run_shell(const std::string& command) {
  CommandOutput result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool have_program(const std::string& program) {
  return run_shell("command -v " + program + " >/dev/null").exit_code == 0;
}

protocol::OpusStream encode_with_libopus(const std::vector<float>& interleaved, int channels,
                                         int frame, int bitrate) {
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(48000, channels, OPUS_APPLICATION_AUDIO, &err);
  if (err != OPUS_OK) throw std::runtime_error("opus_encoder_create failed");
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
  opus_int32 lookahead = 0;
  opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
  protocol::OpusStream s;
  s.channels = static_cast<std::uint8_t>(channels);
  s.pre_skip = static_cast<std::uint16_t>(lookahead);
  const std::size_t samples = interleaved.size() / static_cast<std::size_t>(channels);
  s.total_samples = samples;
  const std::size_t frames = (samples + static_cast<std::size_t>(lookahead) + frame - 1) / frame;
  std::vector<float> padded(interleaved);
  padded.resize(frames * static_cast<std::size_t>(frame * channels), 0.0f);
  std::array<unsigned char, 4000> packet{};
  for (std::size_t f = 0; f < frames; ++f) {
    const int n =
        opus_encode_float(enc, padded.data() + f * static_cast<std::size_t>(frame * channels),
                          frame, packet.data(), static_cast<opus_int32>(packet.size()));
    if (n < 0) throw std::runtime_error("opus_encode_float failed");
    s.packets.emplace_back(packet.begin(), packet.begin() + n);
  }
  opus_encoder_destroy(enc);
  return s;
}

std::size_t page_size(const protocol::Bytes& file, std::size_t offset) {
  const std::size_t segments = file.at(offset + 26);
  std::size_t size = 27 + segments;
  for (std::size_t i = 0; i < segments; ++i) size += file.at(offset + 27 + i);
  return size;
}

std::vector<std::size_t> page_offsets(const protocol::Bytes& file) {
  std::vector<std::size_t> offsets;
  for (std::size_t pos = 0; pos + 27 <= file.size(); pos += page_size(file, pos)) {
    offsets.push_back(pos);
  }
  return offsets;
}

void fix_page_crc(protocol::Bytes& file, std::size_t offset) {
  // Ogg CRC-32: polynomial 0x04c11db7, no reflection, initial 0, no final xor.
  const std::size_t size = page_size(file, offset);
  for (std::size_t i = 22; i < 26; ++i) file[offset + i] = 0;
  std::uint32_t crc = 0;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= static_cast<std::uint32_t>(file[offset + i]) << 24;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04c11db7u : crc << 1;
  }
  for (int i = 0; i < 4; ++i)
    file[offset + 22 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
}

double rms_dbfs(const std::vector<std::int16_t>& pcm) {
  double sum = 0;
  for (auto s : pcm) sum += (s / 32768.0) * (s / 32768.0);
  return 10 * std::log10(sum / static_cast<double>(pcm.size()));
}

double peak_dbfs(const std::vector<std::int16_t>& pcm) {
  int peak = 0;
  for (auto s : pcm) peak = std::max(peak, std::abs(static_cast<int>(s)));
  return 20 * std::log10(peak / 32768.0);
}

}  // namespace loa::test_audio
