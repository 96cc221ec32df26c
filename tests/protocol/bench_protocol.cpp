// Messages per second on one core for the two hot paths of the wire protocol: sealing an encoded
// message (controller) and opening and decoding it (node), for a 1 s AudioChunk at 24 kbit/s
// (50 packets of 60 bytes) and for a Plan of 100 occurrences.
#include <benchmark/benchmark.h>

#include "loa/protocol/envelope.hpp"
#include "loa/protocol/messages.hpp"

namespace loa::protocol {
namespace {

constexpr Micros kNow = 1717200000LL * 1000000;

const KeyPair& signer() {
  static const KeyPair key = [] {
    SecretKey secret{};
    for (std::size_t i = 0; i < 32; ++i) secret[i] = static_cast<std::uint8_t>(i + 1);
    return KeyPair::from_secret(secret);
  }();
  return key;
}

VerifyPolicy policy() {
  VerifyPolicy p;
  p.now_us = kNow;
  p.max_age_us = 60LL * 1000000;
  p.last_sequence = 0;
  return p;
}

AudioChunk one_second_chunk() {
  AudioChunk c;
  c.stream_id = 4242;
  c.index = 17;
  c.sender_us = kNow;
  for (int i = 0; i < 50; ++i) c.packets.emplace_back(60, static_cast<std::uint8_t>(i));
  return c;
}

Plan plan_of_100() {
  Plan p;
  p.scope = "area:79/26734/03";
  p.version = 1234;
  for (std::uint64_t i = 0; i < 100; ++i) {
    p.occurrences.push_back({1000 + i, 4242 + i, kNow + static_cast<Micros>(i) * 3600000000LL,
                             kNow + static_cast<Micros>(i) * 3600000000LL + 600000000LL,
                             Priority::normal, 90});
  }
  return p;
}

void set_rate(benchmark::State& state, std::size_t bytes) {
  state.counters["msgs"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["bytes"] = benchmark::Counter(static_cast<double>(bytes));
}

template <typename T>
void seal_encode(benchmark::State& state, const T& message, MessageType type) {
  std::uint64_t seq = 1;
  std::size_t size = 0;
  for (auto _ : state) {
    const Bytes body = encode(message);
    Bytes envelope = seal(type, signer(), kNow, seq++, body);
    size = envelope.size();
    benchmark::DoNotOptimize(envelope.data());
  }
  set_rate(state, size);
}

template <typename T, typename Decode>
void verify_decode(benchmark::State& state, const T& message, MessageType type, Decode decode) {
  const Bytes envelope = seal(type, signer(), kNow, 1, encode(message));
  const VerifyPolicy p = policy();
  const KeySet keys(signer().public_key);
  for (auto _ : state) {
    const OpenResult opened = open(envelope, keys, p);
    if (!opened.ok()) {
      state.SkipWithError("open failed");
      break;
    }
    auto decoded = decode(opened.opened->body);
    if (!decoded.ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(decoded.value());
  }
  set_rate(state, envelope.size());
}

void BM_SealEncodeAudioChunk(benchmark::State& state) {
  seal_encode(state, one_second_chunk(), MessageType::audio_chunk);
}
void BM_VerifyDecodeAudioChunk(benchmark::State& state) {
  verify_decode(state, one_second_chunk(), MessageType::audio_chunk, decode_audio_chunk);
}
void BM_SealEncodePlan100(benchmark::State& state) {
  seal_encode(state, plan_of_100(), MessageType::plan);
}
void BM_VerifyDecodePlan100(benchmark::State& state) {
  verify_decode(state, plan_of_100(), MessageType::plan, decode_plan);
}
// The codec alone, without signatures, to show where the time goes.
void BM_DecodeAudioChunkOnly(benchmark::State& state) {
  const Bytes body = encode(one_second_chunk());
  for (auto _ : state) {
    auto decoded = decode_audio_chunk(body);
    benchmark::DoNotOptimize(decoded.ok());
  }
  set_rate(state, body.size());
}
void BM_DecodePlan100Only(benchmark::State& state) {
  const Bytes body = encode(plan_of_100());
  for (auto _ : state) {
    auto decoded = decode_plan(body);
    benchmark::DoNotOptimize(decoded.ok());
  }
  set_rate(state, body.size());
}

BENCHMARK(BM_SealEncodeAudioChunk);
BENCHMARK(BM_VerifyDecodeAudioChunk);
BENCHMARK(BM_SealEncodePlan100);
BENCHMARK(BM_VerifyDecodePlan100);
BENCHMARK(BM_DecodeAudioChunkOnly);
BENCHMARK(BM_DecodePlan100Only);

}  // namespace
}  // namespace loa::protocol

BENCHMARK_MAIN();
