// Helpers for the audio tests: temporary directories, generated signals, sound files written
// with libsndfile, shell commands, and raw Ogg page surgery.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loa/protocol/ogg_opus.hpp"

namespace loa::test_audio {

// A fresh directory under $TMPDIR or /tmp, removed with its contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Interleaved sine, the same in every channel.
std::vector<float> sine(std::uint32_t rate, int channels, double seconds, double freq,
                        double amplitude);

// Mono speech-like signal: a 130 Hz harmonic buzz with syllable-rate amplitude modulation and
// pauses, deterministic.
std::vector<float> speech_like(std::uint32_t rate, double seconds);

// Writes interleaved float samples with libsndfile in `format` (SF_FORMAT_*); returns "" or
// libsndfile's error.
std::string write_sound_file(const std::string& path, int format, std::uint32_t rate, int channels,
                             const std::vector<float>& interleaved);

// Reads a sound file as interleaved 16-bit samples; sets channels and rate. Empty on error.
std::vector<std::int16_t> read_sound_file_i16(const std::string& path, int& channels, int& rate);

protocol::Bytes read_bytes(const std::string& path);
void write_bytes(const std::string& path, const protocol::Bytes& bytes);

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line; output of both streams captured.
CommandOutput run_shell(const std::string& command);
// Whether `program` is found on PATH.
bool have_program(const std::string& program);

// Encodes mono or stereo float PCM at 48 kHz with libopus directly (not the controller's
// encoder): frames of `frame` samples, pre_skip = encoder lookahead, end trimming set.
protocol::OpusStream encode_with_libopus(const std::vector<float>& interleaved, int channels,
                                         int frame = 960, int bitrate = 32000);

// Byte offsets of the Ogg pages in a well-formed file.
std::vector<std::size_t> page_offsets(const protocol::Bytes& file);
// Size of the page starting at `offset`.
std::size_t page_size(const protocol::Bytes& file, std::size_t offset);
// Recomputes the CRC of the page at `offset` after its bytes were edited.
void fix_page_crc(protocol::Bytes& file, std::size_t offset);

// RMS and peak in dBFS of 16-bit PCM.
double rms_dbfs(const std::vector<std::int16_t>& pcm);
double peak_dbfs(const std::vector<std::int16_t>& pcm);

}  // namespace loa::test_audio
