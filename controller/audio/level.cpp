#include "level.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace loa::controller::audio_detail {

double to_dbfs(double linear) {
  if (linear <= 0) return -std::numeric_limits<double>::infinity();
  return 20.0 * std::log10(linear);
}

double rms(std::span<const float> pcm) {
  if (pcm.empty()) return 0;
  double sum = 0;
  for (float s : pcm) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / static_cast<double>(pcm.size()));
}

GatedMeter::GatedMeter(std::uint32_t rate) : block_(std::max<std::size_t>(1, rate / 50)) {}

void GatedMeter::add(std::span<const float> pcm) {
  for (const float s : pcm) {
    const double p = static_cast<double>(s) * s;
    partial_sum_ += p;
    total_sum_ += p;
    if (++partial_n_ == block_) {
      powers_.push_back(partial_sum_ / static_cast<double>(block_));
      partial_sum_ = 0;
      partial_n_ = 0;
    }
  }
  total_n_ += pcm.size();
}

double GatedMeter::value() const {
  auto each = [&](auto&& f) {
    for (double p : powers_) f(p);
    if (partial_n_ > 0) f(partial_sum_ / static_cast<double>(partial_n_));
  };
  const double absolute_gate = std::pow(10.0, -70.0 / 10.0);
  double sum = 0;
  std::size_t count = 0;
  each([&](double p) {
    if (p >= absolute_gate) {
      sum += p;
      ++count;
    }
  });
  if (count == 0) {
    return total_n_ == 0 ? 0.0 : std::sqrt(total_sum_ / static_cast<double>(total_n_));
  }
  const double relative_gate = sum / static_cast<double>(count) / 100.0;  // -20 dB
  sum = 0;
  count = 0;
  each([&](double p) {
    if (p >= absolute_gate && p >= relative_gate) {
      sum += p;
      ++count;
    }
  });
  return std::sqrt(sum / static_cast<double>(count));
}

double gated_rms(std::span<const float> pcm, std::uint32_t rate) {
  GatedMeter meter(rate);
  meter.add(pcm);
  return meter.value();
}

// Required gain r[k] (<= 1) keeps sample k under the ceiling. The applied gain for sample i is
// the mean over k in [i, i+L-1] of m[k] = min(r[k-L+1..k]); every such window contains i, so the
// applied gain never exceeds r[i], and it ramps linearly over L samples instead of stepping. A
// one-pole release then lets the gain recover slowly (it only ever lowers it).
Limiter::Limiter(double gain, float ceiling, std::uint32_t rate)
    : gain_(gain),
      ceiling_(ceiling),
      look_(std::max<std::size_t>(1, rate / 200)),     // 5 ms
      release_(1.0 - std::exp(-1.0 / (0.05 * rate))),  // 50 ms
      ring_(look_, 1.0),
      delay_(look_, 0.0f),
      ring_sum_(static_cast<double>(look_)) {}

double Limiter::required(float sample) const {
  const double v = std::abs(static_cast<double>(sample) * gain_);
  return v > ceiling_ ? ceiling_ / v : 1.0;
}

void Limiter::step(double r, std::vector<float>& out) {
  const std::uint64_t k = k_++;
  while (!window_.empty() && window_.back().second >= r) window_.pop_back();
  window_.emplace_back(k, r);
  while (window_.front().first + look_ <= k) window_.pop_front();
  const double m = window_.front().second;
  ring_sum_ += m - ring_[k % look_];
  ring_[k % look_] = m;
  if (k + 1 < look_) return;
  // Sample i = k + 1 - L sits in the delay line at the slot k + 1 will take.
  const float x = delay_[(k + 1) % look_];
  const double r_i = required(x);
  // Clamp against rounding drift in the running sum so the guarantee holds exactly.
  const double target = std::min(ring_sum_ / static_cast<double>(look_), r_i);
  envelope_ = target < envelope_ ? target : envelope_ + (target - envelope_) * release_;
  envelope_ = std::min(envelope_, r_i);
  out.push_back(static_cast<float>(static_cast<double>(x) * gain_ * envelope_));
}

void Limiter::add(std::span<const float> pcm, std::vector<float>& out) {
  for (const float s : pcm) {
    delay_[k_ % look_] = s;
    step(required(s), out);
  }
}

void Limiter::finish(std::vector<float>& out) {
  // L - 1 more steps past the end (required gain 1) hand out the samples still held.
  for (std::size_t s = 0; s + 1 < look_; ++s) step(1.0, out);
}

void apply_gain_and_limit(std::vector<float>& pcm, double gain, float ceiling, std::uint32_t rate) {
  Limiter limiter(gain, ceiling, rate);
  std::vector<float> out;
  out.reserve(pcm.size());
  limiter.add(pcm, out);
  limiter.finish(out);
  pcm = std::move(out);
}

}  // namespace loa::controller::audio_detail
