// Level measurement, normalization and peak limiting of mono float PCM (internal to the audio
// library). Each measure and the limiter work a block at a time, so a file of any length is
// processed in fixed memory.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <utility>
#include <vector>

namespace loa::controller::audio_detail {

// 20·log10(x); -inf for 0.
double to_dbfs(double linear);

// Plain RMS of all samples (1.0 = a full-scale square wave).
double rms(std::span<const float> pcm);

// RMS of the active parts: 20 ms blocks above -70 dBFS, then those within 20 dB of their mean
// power (gating as in EBU R128, so long pauses do not pull the level down). Falls back to the
// plain RMS when no block passes.
double gated_rms(std::span<const float> pcm, std::uint32_t rate);

// gated_rms over samples given in blocks of any size. Keeps one power per 20 ms block (8 bytes
// for every 20 ms of audio: 1.4 MB for an hour), since the relative gate needs them all.
class GatedMeter {
 public:
  explicit GatedMeter(std::uint32_t rate);
  void add(std::span<const float> pcm);
  // gated_rms of everything added so far.
  double value() const;

 private:
  std::size_t block_;
  std::vector<double> powers_;
  double partial_sum_ = 0;
  std::size_t partial_n_ = 0;
  double total_sum_ = 0;
  std::uint64_t total_n_ = 0;
};

// Multiplies by `gain`, then applies a look-ahead peak limiter (5 ms look-ahead, 50 ms release)
// so no sample exceeds `ceiling` in magnitude. Output lags input by the look-ahead less one
// sample; finish() hands out the rest, so in total as many samples come out as went in.
class Limiter {
 public:
  Limiter(double gain, float ceiling, std::uint32_t rate);
  // Appends the samples now final to `out`.
  void add(std::span<const float> pcm, std::vector<float>& out);
  void finish(std::vector<float>& out);

 private:
  double required(float sample) const;
  // One step of the look-ahead with the required gain of the newest sample (1.0 past the end).
  void step(double r, std::vector<float>& out);

  double gain_;
  double ceiling_;
  std::size_t look_;
  double release_;
  std::uint64_t k_ = 0;                                  // samples stepped (input index)
  std::deque<std::pair<std::uint64_t, double>> window_;  // increasing values: trailing minimum
  std::vector<double> ring_;                             // last L values of m
  std::vector<float> delay_;                             // last L input samples
  double ring_sum_;
  double envelope_ = 1.0;
};

// Limiter over a whole buffer, in place.
void apply_gain_and_limit(std::vector<float>& pcm, double gain, float ceiling, std::uint32_t rate);

}  // namespace loa::controller::audio_detail
