// Audio ingest: any file libsndfile reads, or Vietnamese text through espeak-ng, becomes a
// mono 48 kHz, level-normalized, Opus-encoded (speech) stream and its Ogg Opus file.
#pragma once

#include <string>
#include <string_view>

#include "loa/protocol/ogg_opus.hpp"

namespace loa::controller {

struct EncodeOptions {
  std::uint32_t bitrate = 24000;   // bit/s
  std::uint16_t frame_ms = 20;     // 10, 20, 40 or 60
  double max_seconds = 3600.0;     // longer input is refused
  double target_rms_dbfs = -20.0;  // level normalization target, peak limited to -1 dBFS
};

struct EncodedAudio {
  protocol::OpusStream stream;
  protocol::Bytes ogg;    // the same stream as a standard Ogg Opus file
  double duration_s = 0;  // stream.total_samples / 48000
};

// Each refuses empty, silent (below -60 dBFS RMS), corrupt, over-long or unreadable input with a
// message that says which.
Result<EncodedAudio> encode_audio_file(const std::string& path, const EncodeOptions& options);
Result<EncodedAudio> encode_audio_bytes(protocol::ByteView file_bytes,
                                        const EncodeOptions& options);
// Mono float PCM at any rate in [-1, 1].
Result<EncodedAudio> encode_pcm(const std::vector<float>& mono, std::uint32_t rate,
                                const EncodeOptions& options);
// Speaks UTF-8 text with espeak-ng (voice "vi" by default) through its library API. Thread-safe
// (espeak-ng itself is not: calls are serialized).
Result<EncodedAudio> synthesize_speech(std::string_view utf8_text, std::string_view voice,
                                       const EncodeOptions& options);

}  // namespace loa::controller
