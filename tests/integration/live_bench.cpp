// Issue 5's live figures: source-to-speaker latency (p50/p95/p99) and inter-node skew across 20
// loa-node processes on loopback, and the controller's CPU per second of live audio. loactl live
// streams a WAV of 10 short 1 kHz bursts through the real controller and a real Mosquitto; each
// node's WAV output is searched for each burst's onset. A burst's latency at a node is the
// instant its onset left that node's output minus the instant the source's onset was captured
// (the stream's start plus its sample offset); its skew is the spread of those instants across
// the nodes. Run: build/tests/integration/live_bench (LOA_LIVE_BENCH_NODES=N to change 20).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "deployment_test.hpp"

using namespace loa;
using loa::test::eventually;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int kRate = 48000;
constexpr int kBursts = 10;
constexpr double kBurstS = 0.2;
constexpr double kPeriodS = 1.0;

std::vector<std::int16_t> source_pcm() {
  std::vector<std::int16_t> pcm(static_cast<std::size_t>((0.5 + kBursts * kPeriodS) * kRate));
  for (int b = 0; b < kBursts; ++b) {
    const auto from = static_cast<std::size_t>((0.5 + b * kPeriodS) * kRate);
    for (std::size_t i = 0; i < static_cast<std::size_t>(kBurstS * kRate); ++i) {
      pcm[from + i] = static_cast<std::int16_t>(12000 * std::sin(2 * M_PI * 1000.0 * i / kRate));
    }
  }
  return pcm;
}

// Onsets (sample indices) of the bursts: the first sample above the threshold after at least
// half a period of quiet.
std::vector<std::int64_t> onsets(const std::vector<std::int16_t>& pcm) {
  std::vector<std::int64_t> out;
  std::int64_t last = -static_cast<std::int64_t>(kRate);
  for (std::size_t i = 0; i < pcm.size(); ++i) {
    if (std::abs(pcm[i]) <= 3000) continue;
    const auto at = static_cast<std::int64_t>(i);
    if (at - last > static_cast<std::int64_t>(kPeriodS * kRate / 2)) out.push_back(at);
    last = at;
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

class LiveBench : public test::DeploymentTest {};

TEST_F(LiveBench, LatencyAndSkewAcrossNodes) {
  const char* env = std::getenv("LOA_LIVE_BENCH_NODES");
  const int n = env ? std::atoi(env) : 20;
  std::vector<std::string> nodes;
  for (int i = 1; i <= n; ++i) {
    nodes.push_back("n" + std::to_string(i));
    d_->add_node({nodes.back(), "79/26734/0" + std::to_string(1 + i % 4), 2, 500});
  }
  std::this_thread::sleep_for(3s);  // nodes connected and subscribed
  const std::string source = d_->dir() / "source.wav";
  const auto pcm = source_pcm();
  test::write_wav_pcm16(source, pcm, kRate);
  const auto src = onsets(pcm);
  ASSERT_EQ(src.size(), static_cast<std::size_t>(kBursts));

  auto r =
      d_->loactl({"live", "--file", source, "--target", "area:79/26734", "--priority", "priority"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json summary = r.json.is_array() ? r.json.at(0) : r.json;
  const std::int64_t occ = test::field(summary, "occurrence_id");
  const std::int64_t start_us = test::field(summary, "start_us");
  std::map<std::string, json> events;
  ASSERT_TRUE(eventually(
      [&] {
        events = events_of(occ);
        return events.size() == nodes.size();
      },
      60s));

  constexpr protocol::Micros kPreskipUs = 6'500;  // the encoder's delay is inside start_us
  std::vector<double> latency_ms;
  std::vector<std::vector<protocol::Micros>> heard(kBursts);
  for (const auto& id : nodes) {
    const json& e = events.at(id);
    EXPECT_EQ(e.value("outcome", ""), "completed") << e.dump();
    const auto out = onsets(test::read_wav_pcm16(wav_of(id, occ)));
    ASSERT_EQ(out.size(), static_cast<std::size_t>(kBursts)) << id;
    for (int b = 0; b < kBursts; ++b) {
      const protocol::Micros at = test::field(e, "start_us") + out[b] * 1'000'000 / kRate;
      const protocol::Micros captured = start_us + kPreskipUs + src[b] * 1'000'000 / kRate;
      latency_ms.push_back(static_cast<double>(at - captured) / 1000.0);
      heard[b].push_back(at);
    }
  }
  std::vector<double> skew_ms;
  for (const auto& h : heard) {
    const auto [lo, hi] = std::minmax_element(h.begin(), h.end());
    skew_ms.push_back(static_cast<double>(*hi - *lo) / 1000.0);
  }
  const double audio_s = static_cast<double>(pcm.size()) / kRate;
  std::printf(
      "live bench: %d nodes, %d bursts: source-to-speaker latency p50 %.2f ms, p95 %.2f ms, p99 "
      "%.2f ms (configured 300 ms); inter-node skew p50 %.3f ms, max %.3f ms; controller CPU "
      "%.3f s for %.1f s of audio = %.1f ms per second of audio\n",
      n, kBursts, percentile(latency_ms, 50), percentile(latency_ms, 95),
      percentile(latency_ms, 99), percentile(skew_ms, 50), percentile(skew_ms, 100),
      summary.value("cpu_s", 0.0), audio_s, 1000.0 * summary.value("cpu_s", 0.0) / audio_s);
}

}  // namespace
