#include "level.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <utility>

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

double gated_rms(std::span<const float> pcm, std::uint32_t rate) {
  const std::size_t block = std::max<std::size_t>(1, rate / 50);
  std::vector<double> powers;
  powers.reserve(pcm.size() / block + 1);
  for (std::size_t start = 0; start < pcm.size(); start += block) {
    const std::size_t n = std::min(block, pcm.size() - start);
    double sum = 0;
    for (std::size_t i = start; i < start + n; ++i) sum += static_cast<double>(pcm[i]) * pcm[i];
    powers.push_back(sum / static_cast<double>(n));
  }
  const double absolute_gate = std::pow(10.0, -70.0 / 10.0);
  double sum = 0;
  std::size_t count = 0;
  for (double p : powers) {
    if (p >= absolute_gate) {
      sum += p;
      ++count;
    }
  }
  if (count == 0) return rms(pcm);
  const double relative_gate = sum / static_cast<double>(count) / 100.0;  // -20 dB
  sum = 0;
  count = 0;
  for (double p : powers) {
    if (p >= absolute_gate && p >= relative_gate) {
      sum += p;
      ++count;
    }
  }
  return std::sqrt(sum / static_cast<double>(count));
}

void apply_gain_and_limit(std::vector<float>& pcm, double gain, float ceiling, std::uint32_t rate) {
  // Required gain r[k] (<= 1) keeps sample k under the ceiling. The applied gain for sample i is
  // the mean over k in [i, i+L-1] of m[k] = min(r[k-L+1..k]); every such window contains i, so
  // the applied gain never exceeds r[i], and it ramps linearly over L samples instead of
  // stepping. A one-pole release then lets the gain recover slowly (it only ever lowers it).
  const std::size_t n = pcm.size();
  const std::size_t look = std::max<std::size_t>(1, rate / 200);  // 5 ms
  const double release = 1.0 - std::exp(-1.0 / (0.05 * rate));    // 50 ms
  auto required = [&](std::size_t k) -> double {
    if (k >= n) return 1.0;
    const double v = std::abs(static_cast<double>(pcm[k]) * gain);
    return v > ceiling ? ceiling / v : 1.0;
  };
  std::deque<std::pair<std::size_t, double>> window;  // increasing values: trailing minimum
  std::vector<double> ring(look, 1.0);                // last L values of m
  double ring_sum = static_cast<double>(look);
  double envelope = 1.0;
  for (std::size_t k = 0; k < n + look - 1; ++k) {
    const double r = required(k);
    while (!window.empty() && window.back().second >= r) window.pop_back();
    window.emplace_back(k, r);
    while (window.front().first + look <= k) window.pop_front();
    const double m = window.front().second;
    ring_sum += m - ring[k % look];
    ring[k % look] = m;
    if (k + 1 < look) continue;
    const std::size_t i = k + 1 - look;
    // Clamp against rounding drift in the running sum so the guarantee holds exactly.
    const double target = std::min(ring_sum / static_cast<double>(look), required(i));
    envelope = target < envelope ? target : envelope + (target - envelope) * release;
    envelope = std::min(envelope, required(i));
    pcm[i] = static_cast<float>(static_cast<double>(pcm[i]) * gain * envelope);
  }
}

}  // namespace loa::controller::audio_detail
