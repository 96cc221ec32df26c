#include "loa/protocol/messages.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "samples.hpp"

namespace loa::protocol {
namespace {

using ::testing::HasSubstr;

// One decoder under test: its sample encoding and a function returning the decode error ("" if ok).
struct Codec {
  std::string name;
  Bytes sample;
  std::function<std::string(ByteView)> error_of;
};

template <typename T, typename Decode>
Codec codec(std::string name, const T& sample, Decode decode) {
  return Codec{std::move(name), encode(sample), [decode](ByteView b) {
                 auto r = decode(b);
                 return r.ok() ? std::string() : r.error().message;
               }};
}

std::vector<Codec> all_codecs() {
  return {
      codec("plan", samples::plan(), decode_plan),
      codec("manifest", samples::manifest(), decode_manifest),
      codec("audio_chunk", samples::audio_chunk(), decode_audio_chunk),
      codec("control", samples::control(), decode_control),
      codec("playback_event", samples::playback_event(), decode_playback_event),
      codec("receipt", samples::receipt(), decode_receipt),
      codec("status", samples::status(), decode_status),
      codec("hello", samples::hello(), decode_hello),
      codec("fetch", samples::fetch(), decode_fetch),
      codec("cache_report", samples::cache_report(), decode_cache_report),
  };
}

template <typename T, typename Decode>
void expect_round_trip(const T& m, Decode decode) {
  const Bytes bytes = encode(m);
  auto back = decode(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, m);
  EXPECT_EQ(encode(*back), bytes);
}

template <typename Decode>
std::string error_of(const Bytes& bytes, Decode decode) {
  auto r = decode(bytes);
  return r.ok() ? std::string("(decoded)") : r.error().message;
}

void put_u16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

TEST(Messages, EverySampleRoundTrips) {
  expect_round_trip(samples::plan(), decode_plan);
  expect_round_trip(samples::manifest(), decode_manifest);
  expect_round_trip(samples::audio_chunk(), decode_audio_chunk);
  expect_round_trip(samples::control(), decode_control);
  expect_round_trip(samples::playback_event(), decode_playback_event);
  expect_round_trip(samples::receipt(), decode_receipt);
  expect_round_trip(samples::status(), decode_status);
  expect_round_trip(samples::hello(), decode_hello);
  expect_round_trip(samples::fetch(), decode_fetch);
  expect_round_trip(samples::cache_report(), decode_cache_report);
}

TEST(Messages, LiveEndChunkHasNoPackets) {
  const AudioChunk end{77, 42, samples::kMorning + 3'360'000, {}};
  const Bytes body = encode(end);
  EXPECT_EQ(body.size(), 8u + 4 + 8 + 2);
  expect_round_trip(end, decode_audio_chunk);
}

TEST(Messages, ExtremeValuesRoundTrip) {
  Plan plan;
  plan.scope = "node:" + std::string(kMaxIdLength, 'z');
  plan.version = UINT64_MAX;
  for (std::size_t i = 0; i < kMaxOccurrencesPerPlan; ++i) {
    plan.occurrences.push_back(
        {i, UINT64_MAX - i, INT64_MIN, INT64_MAX, Priority::priority, 0, i % 2 == 1});
  }
  expect_round_trip(plan, decode_plan);

  Manifest manifest = samples::manifest();
  manifest.chunk_digests.assign(kMaxChunksPerBulletin, Digest{});
  manifest.total_samples = UINT64_MAX;
  manifest.channels = 2;
  manifest.sample_rate = 8000;
  expect_round_trip(manifest, decode_manifest);

  AudioChunk chunk;
  chunk.index = UINT32_MAX;
  chunk.sender_us = -1;
  chunk.packets.assign(kMaxPacketsPerChunk, Bytes(kMaxOpusPacket, 0x5a));
  expect_round_trip(chunk, decode_audio_chunk);

  Fetch fetch{"n", 1, false, {}};
  for (std::uint32_t i = 0; i < kMaxFetchIndices; ++i) fetch.indices.push_back(i);
  expect_round_trip(fetch, decode_fetch);

  Hello hello = samples::hello();
  const std::string seg(kMaxAreaSegment, '9');
  const std::string longest_area = seg + "/" + seg + "/" + seg + "/" + std::string(29, '8');
  hello.plans.assign(kMaxHeldPlans, HeldPlan{"area:" + longest_area, 1});
  hello.version = std::string(kMaxTextLength, 'v');
  expect_round_trip(hello, decode_hello);

  PlaybackEvent event = samples::playback_event();
  event.detail = "Bản tin đã phát xong";  // UTF-8 text
  for (const auto o : {Outcome::completed, Outcome::partial, Outcome::preempted, Outcome::expired,
                       Outcome::failed, Outcome::rejected, Outcome::cancelled}) {
    event.outcome = o;
    expect_round_trip(event, decode_playback_event);
  }
  for (const auto c : {ControlCommand::volume, ControlCommand::mute, ControlCommand::cancel,
                       ControlCommand::ping, ControlCommand::test_tone, ControlCommand::restart,
                       ControlCommand::reload, ControlCommand::time}) {
    expect_round_trip(Control{c, UINT64_MAX, "area:79/26734/03"}, decode_control);
  }
  for (const auto s : {CacheState::cached, CacheState::rejected, CacheState::failed}) {
    expect_round_trip(CacheReport{"a-b_C", 0, s, "x"}, decode_cache_report);
  }
  Status status = samples::status();
  status.output_ok = false;
  status.volume = 0;
  status.clock_offset_us = INT64_MIN;
  status.cpu_temp_mc = -40000;
  status.online = false;
  status.last_outcome = Outcome::cancelled;
  expect_round_trip(status, decode_status);
  status.cpu_temp_mc.reset();
  expect_round_trip(status, decode_status);
}

TEST(Messages, EveryTruncationIsRefusedWithItsOffset) {
  for (const auto& c : all_codecs()) {
    ASSERT_EQ(c.error_of(c.sample), "") << c.name;
    for (std::size_t len = 0; len < c.sample.size(); ++len) {
      const std::string error = c.error_of(ByteView(c.sample.data(), len));
      EXPECT_THAT(error, HasSubstr("truncated")) << c.name << " cut to " << len;
      EXPECT_THAT(error, ::testing::StartsWith(c.name + ": ")) << error;
    }
  }
}

// Found by fuzz_status: an absent CPU temperature with non-zero bytes decoded, and re-encoded
// differently. One encoding per value: it is refused, naming the field.
TEST(Messages, AbsentTemperatureMustBeWrittenAsZero) {
  Status status = samples::status();
  status.cpu_temp_mc.reset();
  Bytes body = encode(status);
  ASSERT_TRUE(decode_status(body).ok());
  const std::size_t temp_at = body.size() - (2 + status.site_output.size()) - 4;
  body[temp_at + 3] = 1;
  const auto refused = decode_status(body);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("cpu_temp_mc"));
  EXPECT_THAT(refused.error().message, HasSubstr("offset " + std::to_string(temp_at)));
}

TEST(Messages, TrailingBytesAreRefused) {
  for (const auto& c : all_codecs()) {
    Bytes longer = c.sample;
    longer.push_back(0);
    EXPECT_EQ(c.error_of(longer),
              c.name + ": 1 trailing bytes at offset " + std::to_string(c.sample.size()));
  }
}

TEST(Messages, UnknownEnumValuesNameFieldAndOffset) {
  // scope "area:79/26734": 2 + 13 bytes, version 8, count 2 -> occurrences start at 25.
  Bytes plan = encode(samples::plan());
  plan[25 + 35 + 32] = 7;
  EXPECT_EQ(error_of(plan, decode_plan),
            "plan: occurrences[1].priority: unknown value 7 at offset 92");
  plan = encode(samples::plan());
  plan[25 + 34] = 2;
  EXPECT_EQ(error_of(plan, decode_plan),
            "plan: occurrences[0].live: invalid boolean 2 (0 or 1) at offset 59");
  plan = encode(samples::plan());
  plan[25 + 33] = 101;
  EXPECT_EQ(error_of(plan, decode_plan),
            "plan: occurrences[0].volume: value 101 above 100 at offset 58");

  Bytes control = encode(samples::control());
  control[0] = 8;
  EXPECT_EQ(error_of(control, decode_control), "control: command: unknown value 8 at offset 0");

  Bytes event = encode(samples::playback_event());
  event[2 + 10 + 16] = 7;
  EXPECT_EQ(error_of(event, decode_playback_event),
            "playback_event: outcome: unknown value 7 at offset 28");

  Bytes report = encode(samples::cache_report());
  report[2 + 10 + 8] = 3;
  EXPECT_EQ(error_of(report, decode_cache_report),
            "cache_report: state: unknown value 3 at offset 20");

  Bytes status = encode(samples::status());
  const std::size_t ok_at = 2 + 10 + 2 + 5 + 5 * 8;
  status[ok_at] = 2;
  EXPECT_EQ(error_of(status, decode_status),
            "status: output_ok: invalid boolean 2 (0 or 1) at offset " + std::to_string(ok_at));
  status = encode(samples::status());
  status[ok_at + 1] = 200;
  EXPECT_THAT(error_of(status, decode_status), HasSubstr("status: volume: value 200 above 100"));

  Bytes fetch = encode(samples::fetch());
  fetch[2 + 10 + 8] = 9;
  EXPECT_EQ(error_of(fetch, decode_fetch),
            "fetch: want_manifest: invalid boolean 9 (0 or 1) at offset 20");
}

TEST(Messages, CountCapsAreEnforced) {
  Bytes plan = encode(samples::plan());
  put_u16(plan, 23, kMaxOccurrencesPerPlan + 1);
  EXPECT_EQ(error_of(plan, decode_plan),
            "plan: occurrences: count 1025 exceeds limit 1024 at offset 23");
  put_u16(plan, 23, 3);  // within the cap, but only two occurrences follow
  EXPECT_THAT(error_of(plan, decode_plan),
              HasSubstr("plan: occurrences: truncated: count 3 needs at least 105 bytes"));

  Bytes manifest = encode(samples::manifest());
  const std::size_t digests_at = 8 + 4 + 1 + 2 + 4 + 2 + 8;
  put_u32(manifest, digests_at, kMaxChunksPerBulletin + 1);
  EXPECT_EQ(error_of(manifest, decode_manifest),
            "manifest: chunk_digests: count 16385 exceeds limit 16384 at offset 29");
  put_u32(manifest, digests_at, 0);
  EXPECT_THAT(error_of(manifest, decode_manifest),
              HasSubstr("manifest: chunk_digests: count 0 below minimum 1"));

  Bytes chunk = encode(samples::audio_chunk());
  put_u16(chunk, 20, kMaxPacketsPerChunk + 1);
  EXPECT_EQ(error_of(chunk, decode_audio_chunk),
            "audio_chunk: packets: count 251 exceeds limit 250 at offset 20");
  put_u16(chunk, 20, 0);  // no packets: a live stream's end chunk, but two packets follow
  EXPECT_THAT(error_of(chunk, decode_audio_chunk), HasSubstr("trailing bytes at offset 22"));

  Bytes hello = encode(samples::hello());
  const std::size_t plans_at = 2 + 10 + 2 + 5 + 32;
  put_u16(hello, plans_at, kMaxHeldPlans + 1);
  EXPECT_EQ(error_of(hello, decode_hello),
            "hello: plans: count 17 exceeds limit 16 at offset " + std::to_string(plans_at));

  Bytes fetch = encode(samples::fetch());
  put_u32(fetch, 21, kMaxFetchIndices + 1);
  EXPECT_EQ(error_of(fetch, decode_fetch),
            "fetch: indices: count 4097 exceeds limit 4096 at offset 21");
}

TEST(Messages, LengthCapsAreEnforced) {
  Bytes chunk = encode(samples::audio_chunk());
  put_u16(chunk, 22, kMaxOpusPacket + 1);
  EXPECT_EQ(error_of(chunk, decode_audio_chunk),
            "audio_chunk: packets[0]: length 1276 exceeds limit 1275 at offset 22");
  put_u16(chunk, 22, 0);
  EXPECT_EQ(error_of(chunk, decode_audio_chunk),
            "audio_chunk: packets[0]: length 0 below minimum 1 at offset 22");
  chunk = encode(samples::audio_chunk());
  put_u16(chunk, 22 + 2 + 3, 50);  // second packet claims more bytes than are left
  EXPECT_EQ(error_of(chunk, decode_audio_chunk),
            "audio_chunk: packets[1]: truncated: needs 50 bytes, 2 left at offset 29");

  Bytes plan = encode(samples::plan());
  put_u16(plan, 0, kMaxScopeLength + 1);
  EXPECT_EQ(error_of(plan, decode_plan), "plan: scope: length 141 exceeds limit 140 at offset 0");

  Bytes event = encode(samples::playback_event());
  put_u16(event, 0, kMaxIdLength + 1);
  EXPECT_EQ(error_of(event, decode_playback_event),
            "playback_event: node_id: length 65 exceeds limit 64 at offset 0");
  event = encode(samples::playback_event());
  const std::size_t detail_at = event.size() - 2 - samples::playback_event().detail.size();
  put_u16(event, detail_at, kMaxTextLength + 1);
  EXPECT_EQ(error_of(event, decode_playback_event),
            "playback_event: detail: length 257 exceeds limit 256 at offset " +
                std::to_string(detail_at));

  Bytes status = encode(samples::status());
  put_u16(status, 12, kMaxTextLength + 1);
  EXPECT_EQ(error_of(status, decode_status),
            "status: version: length 257 exceeds limit 256 at offset 12");
}

TEST(Messages, ContentsAreValidated) {
  Receipt receipt{"bad id", 1};
  EXPECT_THAT(error_of(encode(receipt), decode_receipt),
              HasSubstr("receipt: node_id: node id 'bad id' has invalid character ' '"));
  receipt.node_id = "";
  EXPECT_EQ(error_of(encode(receipt), decode_receipt),
            "receipt: node_id: node id is empty at offset 0");

  Plan plan = samples::plan();
  plan.scope = "area:79//3";
  EXPECT_EQ(error_of(encode(plan), decode_plan),
            "plan: scope: scope 'area:79//3': area path '79//3': segment 2 is empty at offset 0");
  plan.scope = "zone:79";
  EXPECT_THAT(error_of(encode(plan), decode_plan),
              HasSubstr("scope 'zone:79': must start with 'area:' or 'node:'"));

  Hello hello = samples::hello();
  hello.plans[1].scope = "node:";
  EXPECT_THAT(error_of(encode(hello), decode_hello),
              HasSubstr("hello: plans[1].scope: scope 'node:': node id is empty"));

  Bytes event = encode(samples::playback_event());
  event[event.size() - 1] = 0xff;  // the detail's last byte: not UTF-8
  EXPECT_THAT(error_of(event, decode_playback_event),
              HasSubstr("playback_event: detail: not valid UTF-8"));

  Manifest manifest = samples::manifest();
  manifest.sample_rate = 44100;
  EXPECT_EQ(error_of(encode(manifest), decode_manifest),
            "manifest: sample_rate: unsupported rate 44100 (8000, 12000, 16000, 24000 or 48000) "
            "at offset 8");
  manifest = samples::manifest();
  manifest.channels = 3;
  EXPECT_EQ(error_of(encode(manifest), decode_manifest),
            "manifest: channels: unsupported channel count 3 (1 or 2) at offset 12");

  Fetch fetch = samples::fetch();
  fetch.indices[2] = kMaxChunksPerBulletin;
  EXPECT_EQ(error_of(encode(fetch), decode_fetch),
            "fetch: indices[2]: chunk index 16384 beyond limit 16383 at offset 33");
}

// A control signs the scope it was sent to; one without (revision 1) is refused, saying why.
TEST(Messages, AControlWithoutItsTargetIsRefused) {
  const Bytes full = encode(samples::control());
  const Bytes revision1(full.begin(), full.begin() + 9);
  EXPECT_EQ(error_of(revision1, decode_control),
            "control: target: truncated at offset 9 (no target: a control of protocol revision "
            "1, which did not sign it)");
  Bytes bad = full;
  bad[11] = 'x';  // "xode:hcm-q1-007"
  EXPECT_THAT(error_of(bad, decode_control),
              HasSubstr("control: target: scope 'xode:hcm-q1-007': must start with"));
}

TEST(Messages, Utf8Validation) {
  const std::vector<std::string> bad = {
      "\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3", "\xf8\x88"};
  for (const auto& text : bad) {
    CacheReport m{"n", 1, CacheState::failed, ""};
    Bytes b = encode(m);
    b.resize(b.size() - 2);
    b.push_back(0);
    b.push_back(static_cast<std::uint8_t>(text.size()));
    b.insert(b.end(), text.begin(), text.end());
    EXPECT_THAT(error_of(b, decode_cache_report), HasSubstr("not valid UTF-8")) << text.size();
  }
}

TEST(Messages, FreeTextIsClippedAtACharacterBoundary) {
  PlaybackEvent m = samples::playback_event();
  m.detail = std::string(kMaxTextLength - 1, 'a') + "đ";  // 'đ' is 2 bytes: it would straddle
  auto back = decode_playback_event(encode(m));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->detail, std::string(kMaxTextLength - 1, 'a'));

  m.detail = "bad \xff byte";
  back = decode_playback_event(encode(m));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->detail, "bad ? byte");
}

TEST(MessagesDeathTest, EncodingBeyondACapAborts) {
  Plan plan = samples::plan();
  plan.occurrences.resize(kMaxOccurrencesPerPlan + 1);
  EXPECT_DEATH((void)encode(plan), "contract violation");
  AudioChunk chunk = samples::audio_chunk();
  chunk.packets[0].resize(kMaxOpusPacket + 1);
  EXPECT_DEATH((void)encode(chunk), "contract violation");
  Receipt receipt{std::string(kMaxIdLength + 1, 'n'), 1};
  EXPECT_DEATH((void)encode(receipt), "contract violation");
}

TEST(Messages, NamesRoundTrip) {
  for (const auto p : {Priority::normal, Priority::priority, Priority::emergency}) {
    auto back = parse_priority(to_string(p));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, p);
  }
  for (const auto o : {Outcome::completed, Outcome::partial, Outcome::preempted, Outcome::expired,
                       Outcome::failed, Outcome::rejected, Outcome::cancelled}) {
    auto back = parse_outcome(to_string(o));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, o);
  }
  EXPECT_THAT(parse_priority("urgent").error().message, HasSubstr("unknown priority 'urgent'"));
  EXPECT_THAT(parse_outcome("done").error().message, HasSubstr("unknown outcome 'done'"));
  EXPECT_STREQ(to_string(CacheState::rejected), "rejected");
  EXPECT_STREQ(to_string(ControlCommand::test_tone), "test_tone");
}

TEST(Messages, Sha256MatchesTheStandardVector) {
  const std::string abc = "abc";
  const Digest d = sha256(ByteView(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()));
  const Digest expected = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                           0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                           0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_EQ(d, expected);
}

TEST(Messages, Scopes) {
  auto area = AreaPath::parse("79/26734");
  ASSERT_TRUE(area.ok());
  EXPECT_EQ(area_scope(*area), "area:79/26734");
  EXPECT_EQ(node_scope("n-1"), "node:n-1");
  EXPECT_TRUE(validate_scope("area:79/26734").ok());
  EXPECT_TRUE(validate_scope("node:n-1").ok());
  EXPECT_FALSE(validate_scope("").ok());
  EXPECT_FALSE(validate_scope("area:").ok());
  EXPECT_FALSE(validate_scope("node:a/b").ok());
  EXPECT_THAT(validate_scope("area:" + std::string(kMaxScopeLength, '1')).message(),
              HasSubstr("at most 140"));
}

}  // namespace
}  // namespace loa::protocol
