// Ingest of audio files through libsndfile (WAV, FLAC, MP3, Ogg Vorbis/Opus and more).
#include <sndfile.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "loa/controller/audio.hpp"
#include "pcm_encoder.hpp"

namespace loa::controller {
namespace {

constexpr sf_count_t kBlockFrames = 8192;

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// A read-only view of bytes in memory, for libsndfile's virtual I/O.
struct MemoryFile {
  protocol::ByteView data;
  sf_count_t pos = 0;
};

sf_count_t mem_length(void* user) {
  return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->data.size());
}

sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(f->data.size());
  sf_count_t target = offset;
  if (whence == SEEK_CUR) target = f->pos + offset;
  if (whence == SEEK_END) target = size + offset;
  if (target < 0 || target > size) return -1;
  f->pos = target;
  return f->pos;
}

sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(f->data.size());
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, size - f->pos));
  if (n > 0) std::memcpy(ptr, f->data.data() + f->pos, static_cast<std::size_t>(n));
  f->pos += n;
  return n;
}

sf_count_t mem_write(const void*, sf_count_t, void*) {
  return 0;
}

sf_count_t mem_tell(void* user) {
  return static_cast<MemoryFile*>(user)->pos;
}

// Reads every frame of an open file, mixed down to mono by averaging the channels.
Result<EncodedAudio> encode_open_file(SNDFILE* file, const SF_INFO& info,
                                      const EncodeOptions& options, const std::string& subject) {
  if (info.channels < 1 || info.samplerate < 1) {
    return make_error("audio: cannot read " + subject + ": " + std::to_string(info.channels) +
                      " channels at " + std::to_string(info.samplerate) + " Hz");
  }
  if (auto ok = audio_detail::check_options(options); !ok) return make_error(ok.message());
  const double rate = info.samplerate;
  // Refuse before decoding when the header already tells (MP3 may not; then while reading).
  if (info.frames > 0 && info.frames != SF_COUNT_MAX &&
      static_cast<double>(info.frames) / rate > options.max_seconds) {
    return audio_detail::too_long_error(subject, static_cast<double>(info.frames) / rate,
                                        options.max_seconds);
  }
  const auto max_frames = static_cast<std::size_t>(options.max_seconds * rate) + 1;
  const auto channels = static_cast<std::size_t>(info.channels);
  std::vector<float> mono;
  if (info.frames > 0 && static_cast<std::size_t>(info.frames) <= max_frames) {
    mono.reserve(static_cast<std::size_t>(info.frames));
  }
  std::vector<float> block(static_cast<std::size_t>(kBlockFrames) * channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(file, block.data(), kBlockFrames);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      const float* frame = block.data() + static_cast<std::size_t>(i) * channels;
      float sum = 0;
      for (std::size_t c = 0; c < channels; ++c) sum += frame[c];
      mono.push_back(sum / static_cast<float>(channels));
    }
    if (mono.size() > max_frames) {
      return audio_detail::too_long_error(
          subject + " (at least)", static_cast<double>(mono.size()) / rate, options.max_seconds);
    }
  }
  if (sf_error(file) != SF_ERR_NO_ERROR) {
    return make_error("audio: cannot read " + subject + ": " + sf_strerror(file) +
                      " (after frame " + std::to_string(mono.size()) + ")");
  }
  return audio_detail::encode_pcm_named(mono, static_cast<std::uint32_t>(info.samplerate), options,
                                        subject);
}

}  // namespace

Result<EncodedAudio> encode_audio_file(const std::string& path, const EncodeOptions& options) {
  const std::string subject = "'" + path + "'";
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error("audio: cannot read " + subject + ": " + ec.message());
  if (size == 0) return make_error("audio: " + subject + " is empty (0 bytes)");
  SF_INFO info{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) return make_error("audio: cannot read " + subject + ": " + sf_strerror(nullptr));
  return encode_open_file(file.get(), info, options, subject);
}

Result<EncodedAudio> encode_audio_bytes(protocol::ByteView file_bytes,
                                        const EncodeOptions& options) {
  const std::string subject = "uploaded audio (" + std::to_string(file_bytes.size()) + " bytes)";
  if (file_bytes.empty()) return make_error("audio: " + subject + " is empty (0 bytes)");
  MemoryFile memory{file_bytes, 0};
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO info{};
  SndfilePtr file(sf_open_virtual(&io, SFM_READ, &info, &memory));
  if (!file) return make_error("audio: cannot read " + subject + ": " + sf_strerror(nullptr));
  return encode_open_file(file.get(), info, options, subject);
}

}  // namespace loa::controller
