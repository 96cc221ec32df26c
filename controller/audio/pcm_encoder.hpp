// The shared tail of every ingest path (internal to the audio library): mono PCM from a source
// that can be read twice becomes an Ogg Opus stream, a block at a time. The first pass measures
// (length, finite samples, level), the second resamples, normalizes, limits and encodes, and
// hands the Ogg pages out as they fill; memory does not grow with the input's length or rate
// (but for one level figure per 20 ms, level.hpp GatedMeter).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "loa/controller/audio.hpp"

namespace loa::controller::audio_detail {

// Mono PCM at one rate, read a block at a time from the start, as often as needed.
class MonoSource {
 public:
  virtual ~MonoSource() = default;
  // Starts (again) at the first sample; called before each pass. The error names the input.
  virtual Status rewind() = 0;
  // Fills the start of `out` with the next samples; returns how many, 0 at the end. The error
  // names the input and where reading stopped.
  virtual Result<std::size_t> read(std::span<float> out) = 0;
  // Samples per second (refused outside 1000..768000).
  virtual std::uint32_t rate() const = 0;
};

// The pipeline above. `subject` names the input in error messages ("'x.wav'", "speech"); `out`
// gets the Ogg pages in order (an error from it is returned as is). After an error the pages
// already handed out are not a valid file.
Result<EncodedStream> encode_source(MonoSource& source, const EncodeOptions& options,
                                    const std::string& subject,
                                    const protocol::OggOpusWriter::Out& out);

// A whole Ogg file in memory from encode_source, and its packets read back.
Result<EncodedAudio> encode_in_memory(MonoSource& source, const EncodeOptions& options,
                                      const std::string& subject);

// encode_pcm with `subject` naming the input in error messages.
Result<EncodedAudio> encode_pcm_named(const std::vector<float>& mono, std::uint32_t rate,
                                      const EncodeOptions& options, const std::string& subject);

// The "too long" refusal, shared by the readers that stop early.
Error too_long_error(const std::string& subject, double seconds, double max_seconds);

// Checks the options; the error names the bad field.
Status check_options(const EncodeOptions& options);

}  // namespace loa::controller::audio_detail
