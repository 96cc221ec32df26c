// Audio ingest: any file libsndfile reads, or Vietnamese text through espeak-ng, becomes a
// mono 48 kHz, level-normalized, Opus-encoded (speech) stream and its Ogg Opus file.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loa/protocol/ogg_opus.hpp"

namespace loa::controller {

// bitrate · frame_ms must fit a packet on the wire (protocol::kMaxOpusPacket bytes): 40 ms
// frames allow up to 255000 bit/s, 60 ms up to 170000.
struct EncodeOptions {
  std::uint32_t bitrate = 24000;   // bit/s, 6000..510000
  std::uint16_t frame_ms = 20;     // 10, 20, 40 or 60
  double max_seconds = 3600.0;     // longer input is refused
  double target_rms_dbfs = -20.0;  // level normalization target, peak limited to -1 dBFS
};

// What was encoded when the Ogg file itself went elsewhere, a page at a time.
struct EncodedStream {
  protocol::OpusStreamInfo info;  // mono, 48 kHz; total_samples after pre-skip
  std::uint64_t packets = 0;
  double duration_s = 0;  // info.total_samples / 48000
};

struct EncodedAudio {
  protocol::OpusStream stream;
  protocol::Bytes ogg;    // the same stream as a standard Ogg Opus file
  double duration_s = 0;  // stream.total_samples / 48000
};

// Checks the options; the error names the bad field and the range allowed.
Status check_encode_options(const EncodeOptions& options);

// Each refuses empty, silent (below -60 dBFS RMS), corrupt, over-long or unreadable input with a
// message that says which.
Result<EncodedAudio> encode_audio_file(const std::string& path, const EncodeOptions& options);
Result<EncodedAudio> encode_audio_bytes(protocol::ByteView file_bytes,
                                        const EncodeOptions& options);
// The same, streaming: the Ogg Opus file is handed to `out` a page at a time as it is encoded
// (an error from `out` is returned as is), and memory stays the same whatever the input's length
// or sample rate (but for 8 bytes of level figures per 20 ms of audio). The input is decoded
// twice: once to measure its length and level, once to encode. `file_bytes` is read in place.
Result<EncodedStream> encode_audio_file_to(const std::string& path, const EncodeOptions& options,
                                           const protocol::OggOpusWriter::Out& out);
Result<EncodedStream> encode_audio_bytes_to(protocol::ByteView file_bytes,
                                            const EncodeOptions& options,
                                            const protocol::OggOpusWriter::Out& out);
// Mono float PCM at any rate in [-1, 1].
Result<EncodedAudio> encode_pcm(const std::vector<float>& mono, std::uint32_t rate,
                                const EncodeOptions& options);
// Speaks UTF-8 text with espeak-ng (voice "vi" by default) through its library API. Thread-safe
// (espeak-ng itself is not: calls are serialized).
Result<EncodedAudio> synthesize_speech(std::string_view utf8_text, std::string_view voice,
                                       const EncodeOptions& options);

// The samples of a sound file (anything libsndfile reads) mixed down to mono, and its rate. The
// error names the file.
Result<std::vector<float>> read_sound_file_mono(const std::string& path, std::uint32_t& rate);

// Encodes a live stream as it comes (no level normalization: a live source is as loud as its
// operator makes it; samples are clipped to [-1, 1]): PCM at any rate, resampled to 48 kHz, one
// Opus packet (speech settings) per frame. Not thread-safe.
class StreamEncoder {
 public:
  // The error says which option or rate is refused.
  static Result<std::unique_ptr<StreamEncoder>> create(std::uint32_t input_rate,
                                                       const EncodeOptions& options);
  virtual ~StreamEncoder() = default;
  // Adds mono samples at the input rate; appends the packet of every frame completed to `out`.
  virtual Status push(std::span<const float> mono, std::vector<protocol::Bytes>& out) = 0;
  // Ends the stream: the last partial frame padded with silence, and the encoder delay flushed.
  virtual Status finish(std::vector<protocol::Bytes>& out) = 0;
  // Samples at 48 kHz the decoder's output lags the input (the Ogg pre-skip).
  virtual std::uint16_t pre_skip() const = 0;
  // Input samples at 48 kHz pushed so far (before padding).
  virtual std::uint64_t samples_in() const = 0;
};

}  // namespace loa::controller
