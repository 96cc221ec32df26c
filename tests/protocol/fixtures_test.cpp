// Golden wire fixtures: the committed bytes in tests/fixtures/*.bin are what encode() and seal()
// produce for the sample messages, they decode back, and PROTOCOL.md shows the same bytes.
// With LOA_UPDATE_FIXTURES=1 the fixtures and the fuzz seed corpora are (re)written instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opus.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "loa/protocol/area_path.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/protocol/topics.hpp"
#include "samples.hpp"

namespace loa::protocol {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = LOA_SOURCE_DIR;
const fs::path kFixtures = kSource / "tests" / "fixtures";
const fs::path kCorpus = kSource / "tests" / "fuzz" / "corpus";

bool updating() {
  const char* v = std::getenv("LOA_UPDATE_FIXTURES");
  return v != nullptr && std::string(v) == "1";
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, ByteView bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string hex(ByteView bytes) {
  std::ostringstream out;
  static const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out << digits[bytes[i] >> 4] << digits[bytes[i] & 0xf] << ((i % 16 == 15) ? "\n" : " ");
  }
  return out.str();
}

Bytes sealed_control() {
  return seal(MessageType::control, samples::controller_key(), samples::kMorning, 1,
              encode(samples::control()));
}

Bytes sealed_event() {
  return seal(MessageType::playback_event, samples::node_key(), samples::kMorning + 45LL * 1000000,
              12, encode(samples::playback_event()));
}

// Every fixture: its file name and the bytes the code produces for it now.
std::map<std::string, Bytes> expected_fixtures() {
  return {
      {"plan.bin", encode(samples::plan())},
      {"manifest.bin", encode(samples::manifest())},
      {"audio_chunk.bin", encode(samples::audio_chunk())},
      {"control.bin", encode(samples::control())},
      {"playback_event.bin", encode(samples::playback_event())},
      {"receipt.bin", encode(samples::receipt())},
      {"status.bin", encode(samples::status())},
      {"hello.bin", encode(samples::hello())},
      {"fetch.bin", encode(samples::fetch())},
      {"cache_report.bin", encode(samples::cache_report())},
      {"envelope_control.bin", sealed_control()},
      {"envelope_playback_event.bin", sealed_event()},
  };
}

// A short real Ogg Opus file (three 20 ms frames of a tone) for the read_ogg_opus corpus.
Bytes tiny_ogg() {
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  EXPECT_EQ(err, OPUS_OK);
  OpusStream stream;
  stream.pre_skip = 312;
  std::int16_t pcm[960];
  for (int frame = 0; frame < 3; ++frame) {
    for (int i = 0; i < 960; ++i)
      pcm[i] = static_cast<std::int16_t>(((frame * 960 + i) % 96) * 200);
    std::uint8_t packet[400];
    const int n = opus_encode(enc, pcm, 960, packet, sizeof packet);
    EXPECT_GT(n, 0);
    stream.packets.emplace_back(packet, packet + n);
  }
  opus_encoder_destroy(enc);
  stream.total_samples = 3 * 960 - 312;
  auto file = write_ogg_opus(stream);
  EXPECT_TRUE(file.ok()) << file.error().message;
  return file.ok() ? file.value() : Bytes{};
}

// Seeds for each fuzz target: the fixtures plus a few variants.
std::map<std::string, std::map<std::string, Bytes>> corpus() {
  std::map<std::string, std::map<std::string, Bytes>> c;
  const auto fx = expected_fixtures();
  for (const char* name : {"plan", "manifest", "audio_chunk", "control", "playback_event",
                           "receipt", "status", "hello", "fetch", "cache_report"}) {
    c[std::string("fuzz_") + name]["sample.bin"] = fx.at(std::string(name) + ".bin");
  }
  Plan empty_plan{"node:n1", 1, {}};
  c["fuzz_plan"]["empty.bin"] = encode(empty_plan);
  Manifest stereo = samples::manifest();
  stereo.channels = 2;
  stereo.chunk_digests.resize(1);
  c["fuzz_manifest"]["one_chunk.bin"] = encode(stereo);
  AudioChunk one{1, 0, 0, {Bytes{0xf8}}};
  c["fuzz_audio_chunk"]["one_packet.bin"] = encode(one);
  c["fuzz_audio_chunk"]["live_end.bin"] = encode(AudioChunk{1, 9, samples::kMorning, {}});
  c["fuzz_control"]["ping.bin"] = encode(Control{ControlCommand::ping, 99, "area:79/26734"});
  PlaybackEvent done = samples::playback_event();
  done.outcome = Outcome::completed;
  done.detail.clear();
  c["fuzz_playback_event"]["completed.bin"] = encode(done);
  Hello bare = samples::hello();
  bare.plans.clear();
  c["fuzz_hello"]["no_plans.bin"] = encode(bare);
  c["fuzz_fetch"]["manifest_only.bin"] = encode(Fetch{"n1", 3, true, {}});
  c["fuzz_cache_report"]["rejected.bin"] =
      encode(CacheReport{"n1", 3, CacheState::rejected, "chunk 2 digest mismatch"});

  c["fuzz_envelope"]["control.bin"] = fx.at("envelope_control.bin");
  c["fuzz_envelope"]["plan.bin"] = seal(MessageType::plan, samples::controller_key(),
                                        samples::kMorning, 2, encode(samples::plan()));
  c["fuzz_envelope"]["chunk.bin"] = seal(MessageType::audio_chunk, samples::controller_key(),
                                         samples::kMorning, 3, encode(samples::audio_chunk()));

  const auto text = [](std::string_view s) {
    return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()),
                 reinterpret_cast<const std::uint8_t*>(s.data()) + s.size());
  };
  const AreaPath area = AreaPath::parse("79/26734/03").value();
  int i = 0;
  for (const std::string& t :
       {topics::area_plan(area), topics::area_control(area), topics::node_plan("hcm-q1-007"),
        topics::node_control("n1"), topics::node_receipt("n1"), topics::bulletin_manifest(4242),
        topics::bulletin_chunks(4242), topics::live_stream(7),
        topics::node_up("n1", topics::UpKind::event),
        topics::node_up("n1", topics::UpKind::fetch)}) {
    c["fuzz_topics"]["topic" + std::to_string(i++) + ".txt"] = text(t);
  }
  c["fuzz_area_path"]["province.txt"] = text("79");
  c["fuzz_area_path"]["village.txt"] = text("79/26734/03");
  c["fuzz_area_path"]["named.txt"] = text("Ha_Noi/Ba-Dinh/phuong_01");
  c["fuzz_ogg_opus"]["tone.opus"] = tiny_ogg();
  return c;
}

TEST(Fixtures, MatchTheCommittedBytes) {
  const auto fixtures = expected_fixtures();
  if (updating()) {
    for (const auto& [name, bytes] : fixtures) write_file(kFixtures / name, bytes);
    for (const auto& [target, seeds] : corpus()) {
      fs::remove_all(kCorpus / target);
      for (const auto& [name, bytes] : seeds) write_file(kCorpus / target / name, bytes);
    }
  }
  for (const auto& [name, bytes] : fixtures) {
    const fs::path path = kFixtures / name;
    ASSERT_TRUE(fs::exists(path)) << path << " missing; run with LOA_UPDATE_FIXTURES=1";
    const Bytes committed = read_file(path);
    EXPECT_EQ(committed, bytes) << name << " differs from the code's encoding. Code gives:\n"
                                << hex(bytes) << "file has:\n"
                                << hex(committed);
  }
}

template <typename T, typename Decode>
void expect_file_decodes(const std::string& name, const T& expected, Decode decode) {
  const Bytes bytes = read_file(kFixtures / name);
  auto back = decode(bytes);
  ASSERT_TRUE(back.ok()) << name << ": " << back.error().message;
  EXPECT_EQ(*back, expected) << name;
}

TEST(Fixtures, DecodeToTheSamples) {
  expect_file_decodes("plan.bin", samples::plan(), decode_plan);
  expect_file_decodes("manifest.bin", samples::manifest(), decode_manifest);
  expect_file_decodes("audio_chunk.bin", samples::audio_chunk(), decode_audio_chunk);
  expect_file_decodes("control.bin", samples::control(), decode_control);
  expect_file_decodes("playback_event.bin", samples::playback_event(), decode_playback_event);
  expect_file_decodes("receipt.bin", samples::receipt(), decode_receipt);
  expect_file_decodes("status.bin", samples::status(), decode_status);
  expect_file_decodes("hello.bin", samples::hello(), decode_hello);
  expect_file_decodes("fetch.bin", samples::fetch(), decode_fetch);
  expect_file_decodes("cache_report.bin", samples::cache_report(), decode_cache_report);
}

TEST(Fixtures, SealedEnvelopesOpenWithTheFixtureKeys) {
  const KeyPair controller = samples::controller_key();
  const KeyPair node = samples::node_key();
  const KeySet trusted({controller.public_key, node.public_key});
  VerifyPolicy policy;
  policy.now_us = samples::kMorning + 60LL * 1000000;
  policy.max_age_us = 300LL * 1000000;

  const Bytes control = read_file(kFixtures / "envelope_control.bin");
  const OpenResult c = open(control, trusted, policy);
  ASSERT_TRUE(c.ok()) << to_string(c.rejection);
  EXPECT_EQ(c.opened->header.type, MessageType::control);
  EXPECT_EQ(c.opened->header.key_id, key_id(controller.public_key));
  EXPECT_EQ(c.opened->header.sequence, 1u);
  auto body = decode_control(c.opened->body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, samples::control());

  const Bytes event = read_file(kFixtures / "envelope_playback_event.bin");
  const OpenResult e = open(event, trusted, policy);
  ASSERT_TRUE(e.ok()) << to_string(e.rejection);
  EXPECT_EQ(e.opened->header.type, MessageType::playback_event);
  EXPECT_EQ(e.opened->header.key_id, key_id(node.public_key));
  auto ev = decode_playback_event(e.opened->body);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(*ev, samples::playback_event());
}

// Reads the "<!-- fixture: NAME -->" hex blocks of PROTOCOL.md. In each line of a block the bytes
// are the leading two-digit hex tokens; the rest of the line is commentary.
std::map<std::string, Bytes> documented_fixtures(const std::string& doc) {
  std::map<std::string, Bytes> out;
  const std::string marker = "<!-- fixture: ";
  std::size_t at = 0;
  while ((at = doc.find(marker, at)) != std::string::npos) {
    const std::size_t name_end = doc.find(" -->", at);
    const std::string name = doc.substr(at + marker.size(), name_end - at - marker.size());
    const std::size_t open = doc.find("```", name_end);
    const std::size_t first_line = doc.find('\n', open) + 1;
    const std::size_t close = doc.find("\n```", first_line);
    std::istringstream lines(doc.substr(first_line, close - first_line));
    Bytes bytes;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream tokens(line);
      for (std::string t; tokens >> t;) {
        if (t.size() != 2 || !std::isxdigit(static_cast<unsigned char>(t[0])) ||
            !std::isxdigit(static_cast<unsigned char>(t[1]))) {
          break;
        }
        bytes.push_back(static_cast<std::uint8_t>(std::stoi(t, nullptr, 16)));
      }
    }
    out[name] = bytes;
    at = close;
  }
  return out;
}

std::string protocol_md() {
  std::ifstream in(kSource / "protocol" / "PROTOCOL.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ProtocolDoc, ShowsEveryFixtureByteForByte) {
  const std::string doc = protocol_md();
  ASSERT_FALSE(doc.empty()) << "protocol/PROTOCOL.md missing";
  const auto documented = documented_fixtures(doc);
  for (const auto& [name, bytes] : expected_fixtures()) {
    const auto it = documented.find(name);
    ASSERT_NE(it, documented.end()) << "PROTOCOL.md has no hex block for " << name;
    EXPECT_EQ(it->second, bytes) << "PROTOCOL.md's " << name << " block differs. Code gives:\n"
                                 << hex(bytes);
  }
}

TEST(ProtocolDoc, ListsTypeNumbersAndLimits) {
  const std::string doc = protocol_md();
  for (std::uint8_t t = 1; t <= 10; ++t) {
    const std::string row =
        "| " + std::to_string(t) + " | `" + to_string(static_cast<MessageType>(t)) + "` |";
    EXPECT_NE(doc.find(row), std::string::npos) << "missing type row: " << row;
  }
  const std::map<std::string, std::size_t> limits = {
      {"kMaxOccurrencesPerPlan", kMaxOccurrencesPerPlan},
      {"kMaxChunksPerBulletin", kMaxChunksPerBulletin},
      {"kMaxPacketsPerChunk", kMaxPacketsPerChunk},
      {"kMaxOpusPacket", kMaxOpusPacket},
      {"kMaxIdLength", kMaxIdLength},
      {"kMaxScopeLength", kMaxScopeLength},
      {"kMaxTextLength", kMaxTextLength},
      {"kMaxFetchIndices", kMaxFetchIndices},
      {"kMaxHeldPlans", kMaxHeldPlans},
      {"kMaxBodySize", kMaxBodySize},
      {"kMaxAreaDepth", kMaxAreaDepth},
      {"kMaxAreaSegment", kMaxAreaSegment},
      {"kMaxAreaPathLength", kMaxAreaPathLength},
      {"kPacketsPerChunk", 50},
  };
  for (const auto& [name, value] : limits) {
    const std::string row = "| `" + name + "` | " + std::to_string(value) + " |";
    EXPECT_NE(doc.find(row), std::string::npos) << "missing limit row: " << row;
  }
  EXPECT_NE(doc.find("| version | 1 | " + std::to_string(kWireVersion)), std::string::npos);
}

// Every committed seed of a decoder's fuzz target decodes, so the fuzzers start from valid input.
TEST(FuzzCorpus, SeedsAreValid) {
  const std::map<std::string, std::function<bool(ByteView)>> decoders = {
      {"fuzz_plan", [](ByteView b) { return decode_plan(b).ok(); }},
      {"fuzz_manifest", [](ByteView b) { return decode_manifest(b).ok(); }},
      {"fuzz_audio_chunk", [](ByteView b) { return decode_audio_chunk(b).ok(); }},
      {"fuzz_control", [](ByteView b) { return decode_control(b).ok(); }},
      {"fuzz_playback_event", [](ByteView b) { return decode_playback_event(b).ok(); }},
      {"fuzz_receipt", [](ByteView b) { return decode_receipt(b).ok(); }},
      {"fuzz_status", [](ByteView b) { return decode_status(b).ok(); }},
      {"fuzz_hello", [](ByteView b) { return decode_hello(b).ok(); }},
      {"fuzz_fetch", [](ByteView b) { return decode_fetch(b).ok(); }},
      {"fuzz_cache_report", [](ByteView b) { return decode_cache_report(b).ok(); }},
      {"fuzz_topics",
       [](ByteView b) {
         return topics::parse(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()))
             .ok();
       }},
      {"fuzz_area_path",
       [](ByteView b) {
         return AreaPath::parse(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()))
             .ok();
       }},
      {"fuzz_ogg_opus", [](ByteView b) { return read_ogg_opus(b).ok(); }},
  };
  for (const auto& [target, decodes] : decoders) {
    const fs::path dir = kCorpus / target;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int seeds = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      EXPECT_TRUE(decodes(read_file(entry.path()))) << entry.path();
      ++seeds;
    }
    EXPECT_GE(seeds, 1) << target;
  }
  ASSERT_TRUE(fs::is_directory(kCorpus / "fuzz_envelope"));
}

}  // namespace
}  // namespace loa::protocol
