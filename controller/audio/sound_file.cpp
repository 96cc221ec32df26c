// Ingest of audio files through libsndfile (WAV, FLAC, MP3, Ogg Vorbis/Opus and more).
#include <sndfile.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
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

// A sound file through libsndfile, mixed down to mono by averaging the channels. Each rewind
// opens it again (every format can be read from the start that way; not all can seek).
class SoundFileSource final : public audio_detail::MonoSource {
 public:
  using Opener = std::function<SNDFILE*(SF_INFO& info)>;
  SoundFileSource(Opener open, std::string subject)
      : open_(std::move(open)), subject_(std::move(subject)) {}

  // Opens the file for the first time and checks its header.
  Status start(const EncodeOptions& options) {
    if (Status s = rewind(); !s) return s;
    if (info_.channels < 1 || info_.samplerate < 1) {
      return make_error("audio: cannot read " + subject_ + ": " + std::to_string(info_.channels) +
                        " channels at " + std::to_string(info_.samplerate) + " Hz");
    }
    if (auto ok = audio_detail::check_options(options); !ok) return make_error(ok.message());
    // Refuse before decoding when the header already tells (MP3 may not; then while reading).
    const double rate = info_.samplerate;
    if (info_.frames > 0 && info_.frames != SF_COUNT_MAX &&
        static_cast<double>(info_.frames) / rate > options.max_seconds) {
      return audio_detail::too_long_error(subject_, static_cast<double>(info_.frames) / rate,
                                          options.max_seconds);
    }
    return Status::success();
  }

  Status rewind() override {
    SF_INFO info{};
    file_.reset(open_(info));
    if (!file_) return make_error("audio: cannot read " + subject_ + ": " + sf_strerror(nullptr));
    if (opened_ && (info.channels != info_.channels || info.samplerate != info_.samplerate)) {
      return make_error("audio: " + subject_ + " read differently the second time");
    }
    info_ = info;
    opened_ = true;
    frames_read_ = 0;
    return Status::success();
  }

  Result<std::size_t> read(std::span<float> out) override {
    const auto channels = static_cast<std::size_t>(info_.channels);
    const auto want = static_cast<sf_count_t>(std::min<std::size_t>(out.size(), kBlockFrames));
    block_.resize(static_cast<std::size_t>(want) * channels);
    const sf_count_t got = sf_readf_float(file_.get(), block_.data(), want);
    if (got <= 0) {
      if (sf_error(file_.get()) != SF_ERR_NO_ERROR) {
        return make_error("audio: cannot read " + subject_ + ": " + sf_strerror(file_.get()) +
                          " (after frame " + std::to_string(frames_read_) + ")");
      }
      return std::size_t{0};
    }
    for (sf_count_t i = 0; i < got; ++i) {
      const float* frame = block_.data() + static_cast<std::size_t>(i) * channels;
      float sum = 0;
      for (std::size_t c = 0; c < channels; ++c) sum += frame[c];
      out[static_cast<std::size_t>(i)] = sum / static_cast<float>(channels);
    }
    frames_read_ += static_cast<std::uint64_t>(got);
    return static_cast<std::size_t>(got);
  }

  std::uint32_t rate() const override { return static_cast<std::uint32_t>(info_.samplerate); }

 private:
  Opener open_;
  std::string subject_;
  SndfilePtr file_;
  SF_INFO info_{};
  bool opened_ = false;
  std::vector<float> block_;
  std::uint64_t frames_read_ = 0;
};

SoundFileSource::Opener path_opener(const std::string& path) {
  return [path](SF_INFO& info) { return sf_open(path.c_str(), SFM_READ, &info); };
}

// Each opening reads the bytes in place from the start.
SoundFileSource::Opener memory_opener(protocol::ByteView bytes) {
  auto memory = std::make_shared<MemoryFile>(MemoryFile{bytes, 0});
  return [memory](SF_INFO& info) {
    static SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
    memory->pos = 0;
    return sf_open_virtual(&io, SFM_READ, &info, memory.get());
  };
}

std::string file_subject(const std::string& path) {
  return "'" + path + "'";
}

std::string bytes_subject(protocol::ByteView bytes) {
  return "uploaded audio (" + std::to_string(bytes.size()) + " bytes)";
}

// Checks what can be checked before decoding; the source is then open.
Status check_file(const std::string& path, const std::string& subject) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error("audio: cannot read " + subject + ": " + ec.message());
  if (size == 0) return make_error("audio: " + subject + " is empty (0 bytes)");
  return Status::success();
}

}  // namespace

Result<EncodedStream> encode_audio_file_to(const std::string& path, const EncodeOptions& options,
                                           const protocol::OggOpusWriter::Out& out) {
  const std::string subject = file_subject(path);
  if (Status s = check_file(path, subject); !s) return make_error(s.message());
  SoundFileSource source(path_opener(path), subject);
  if (Status s = source.start(options); !s) return make_error(s.message());
  return audio_detail::encode_source(source, options, subject, out);
}

Result<EncodedStream> encode_audio_bytes_to(protocol::ByteView file_bytes,
                                            const EncodeOptions& options,
                                            const protocol::OggOpusWriter::Out& out) {
  const std::string subject = bytes_subject(file_bytes);
  if (file_bytes.empty()) return make_error("audio: " + subject + " is empty (0 bytes)");
  SoundFileSource source(memory_opener(file_bytes), subject);
  if (Status s = source.start(options); !s) return make_error(s.message());
  return audio_detail::encode_source(source, options, subject, out);
}

Result<EncodedAudio> encode_audio_file(const std::string& path, const EncodeOptions& options) {
  const std::string subject = file_subject(path);
  if (Status s = check_file(path, subject); !s) return make_error(s.message());
  SoundFileSource source(path_opener(path), subject);
  if (Status s = source.start(options); !s) return make_error(s.message());
  return audio_detail::encode_in_memory(source, options, subject);
}

Result<EncodedAudio> encode_audio_bytes(protocol::ByteView file_bytes,
                                        const EncodeOptions& options) {
  const std::string subject = bytes_subject(file_bytes);
  if (file_bytes.empty()) return make_error("audio: " + subject + " is empty (0 bytes)");
  SoundFileSource source(memory_opener(file_bytes), subject);
  if (Status s = source.start(options); !s) return make_error(s.message());
  return audio_detail::encode_in_memory(source, options, subject);
}

}  // namespace loa::controller
