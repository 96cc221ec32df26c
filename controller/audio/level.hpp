// Level measurement, normalization and peak limiting of mono float PCM (internal to the audio
// library).
#pragma once

#include <cstdint>
#include <span>
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

// Multiplies by `gain`, then applies a look-ahead peak limiter (5 ms look-ahead, 50 ms release)
// so no sample exceeds `ceiling` in magnitude. Works in place, O(n), small fixed extra memory.
void apply_gain_and_limit(std::vector<float>& pcm, double gain, float ceiling, std::uint32_t rate);

}  // namespace loa::controller::audio_detail
