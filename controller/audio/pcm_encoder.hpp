// The shared tail of every ingest path (internal to the audio library).
#pragma once

#include <string>
#include <vector>

#include "loa/controller/audio.hpp"

namespace loa::controller::audio_detail {

// encode_pcm with `subject` naming the input in error messages ("'x.wav'", "speech").
Result<EncodedAudio> encode_pcm_named(const std::vector<float>& mono, std::uint32_t rate,
                                      const EncodeOptions& options, const std::string& subject);

// The "too long" refusal, shared by the readers that stop early.
Error too_long_error(const std::string& subject, double seconds, double max_seconds);

// Checks the options; the error names the bad field.
Status check_options(const EncodeOptions& options);

}  // namespace loa::controller::audio_detail
