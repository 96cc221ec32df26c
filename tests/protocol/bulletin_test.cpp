#include "loa/protocol/bulletin.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace loa::protocol {
namespace {

using ::testing::HasSubstr;

OpusStream make_stream(std::size_t packets) {
  OpusStream s;
  s.channels = 1;
  s.pre_skip = 312;
  s.input_rate = kOpusRate;
  s.total_samples = packets * 960 - 312 - 100;  // pre-skip and end trimming within the packets
  for (std::size_t i = 0; i < packets; ++i) {
    Bytes p(20 + i % 40);
    for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<std::uint8_t>(i * 7 + k);
    p[0] = 0x08;  // TOC: one 20 ms SILK frame, so that the Ogg writer accepts it
    s.packets.push_back(std::move(p));
  }
  return s;
}

// The stream written from `bodies` (by index) through the assembler and read back.
Result<OpusStream> join(const BulletinAssembler& assembler, const std::vector<Bytes>& bodies) {
  Bytes file;
  const loa::Status s =
      assembler.write_ogg([&](std::uint32_t i) -> Result<Bytes> { return bodies.at(i); },
                          [&](ByteView page) {
                            file.insert(file.end(), page.begin(), page.end());
                            return loa::Status{};
                          });
  if (!s) return make_error(s.message());
  return read_ogg_opus(file);
}

TEST(Bulletin, PackagesIntoChunksOfNPackets) {
  const OpusStream s = make_stream(120);
  auto pkg = package_bulletin(4242, s, 24000);
  ASSERT_TRUE(pkg.ok()) << pkg.error().message;
  const Manifest& m = pkg->manifest;
  EXPECT_EQ(m.bulletin_id, 4242u);
  EXPECT_EQ(m.sample_rate, 48000u);
  EXPECT_EQ(m.channels, 1);
  EXPECT_EQ(m.frame_ms, 20);
  EXPECT_EQ(m.bitrate, 24000u);
  EXPECT_EQ(m.pre_skip, 312);
  EXPECT_EQ(m.total_samples, s.total_samples);
  ASSERT_EQ(m.chunk_digests.size(), 3u);
  ASSERT_EQ(pkg->chunk_bodies.size(), 3u);
  const std::size_t sizes[] = {50, 50, 20};
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sha256(pkg->chunk_bodies[i]), m.chunk_digests[i]);
    auto chunk = decode_audio_chunk(pkg->chunk_bodies[i]);
    ASSERT_TRUE(chunk.ok()) << chunk.error().message;
    EXPECT_EQ(chunk->stream_id, 4242u);
    EXPECT_EQ(chunk->index, i);
    ASSERT_EQ(chunk->packets.size(), sizes[i]);
    EXPECT_EQ(chunk->packets.front(), s.packets[i * 50]);
  }
  auto manifest_back = decode_manifest(encode(m));
  ASSERT_TRUE(manifest_back.ok()) << manifest_back.error().message;
  EXPECT_EQ(*manifest_back, m);

  auto small = package_bulletin(1, s, 16000, 20, 7);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->chunk_bodies.size(), 18u);  // ceil(120 / 7)
}

TEST(Bulletin, AssemblesInAnyOrderIgnoringDuplicates) {
  const OpusStream s = make_stream(230);
  auto pkg = package_bulletin(9, s, 24000);
  ASSERT_TRUE(pkg.ok());
  BulletinAssembler assembler(pkg->manifest);
  EXPECT_FALSE(assembler.complete());
  EXPECT_EQ(assembler.missing(), (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_THAT(join(assembler, pkg->chunk_bodies).error().message,
              HasSubstr("5 of 5 chunks missing"));

  // The index the first time, nothing for a duplicate.
  const std::vector<std::pair<std::uint32_t, bool>> order = {
      {3, true}, {0, true}, {3, false}, {4, true}, {0, false}};
  for (const auto& [i, fresh] : order) {
    const auto got = assembler.add(pkg->chunk_bodies[i]);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, fresh ? std::optional<std::uint32_t>{i} : std::nullopt) << i;
  }
  EXPECT_EQ(assembler.missing(), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_THAT(join(assembler, pkg->chunk_bodies).error().message,
              HasSubstr("bulletin 9: 2 of 5 chunks missing"));
  EXPECT_TRUE(assembler.add(pkg->chunk_bodies[2]).ok());
  EXPECT_TRUE(assembler.add(pkg->chunk_bodies[1]).ok());
  EXPECT_TRUE(assembler.complete());
  EXPECT_TRUE(assembler.missing().empty());
  auto back = join(assembler, pkg->chunk_bodies);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  EXPECT_TRUE(assembler.add(pkg->chunk_bodies[4]).ok());  // late duplicate: still fine
  EXPECT_EQ(assembler.manifest(), pkg->manifest);

  // A body damaged in storage after it was accepted is caught when the file is written.
  std::vector<Bytes> damaged = pkg->chunk_bodies;
  damaged[2][30] ^= 0x01;
  EXPECT_THAT(join(assembler, damaged).error().message,
              HasSubstr("bulletin 9: chunk 2 read back does not match the manifest's digest"));
}

TEST(Bulletin, RefusesTamperedAndForeignChunks) {
  const OpusStream s = make_stream(120);
  auto pkg = package_bulletin(9, s, 24000);
  ASSERT_TRUE(pkg.ok());
  BulletinAssembler assembler(pkg->manifest);

  Bytes tampered = pkg->chunk_bodies[1];
  tampered[40] ^= 0x10;  // inside a packet: still decodes, digest differs
  const auto st = assembler.add(tampered);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("bulletin 9: chunk 1 digest"));
  EXPECT_THAT(st.error().message, HasSubstr("does not match the manifest's"));
  EXPECT_EQ(assembler.missing(), (std::vector<std::uint32_t>{0, 1, 2}));

  // A tampered copy of a chunk already held is refused too, and the good copy stays.
  ASSERT_TRUE(assembler.add(pkg->chunk_bodies[1]).ok());
  EXPECT_FALSE(assembler.add(tampered).ok());
  EXPECT_EQ(assembler.missing(), (std::vector<std::uint32_t>{0, 2}));

  auto other = package_bulletin(10, s, 24000);
  ASSERT_TRUE(other.ok());
  EXPECT_THAT(assembler.add(other->chunk_bodies[0]).error().message,
              HasSubstr("chunk belongs to stream 10"));

  auto longer = package_bulletin(9, make_stream(400), 24000);
  ASSERT_TRUE(longer.ok());
  EXPECT_THAT(assembler.add(longer->chunk_bodies[7]).error().message,
              HasSubstr("chunk index 7 beyond the manifest's 3 chunks"));

  const Bytes garbage = {1, 2, 3};
  EXPECT_THAT(assembler.add(garbage).error().message,
              HasSubstr("bulletin 9: audio_chunk: stream_id"));
  EXPECT_FALSE(assembler.complete());
}

TEST(Bulletin, PackagingRefusesBadInput) {
  EXPECT_THAT(package_bulletin(1, OpusStream{}, 24000).error().message,
              HasSubstr("bulletin 1: stream has no packets"));
  OpusStream s = make_stream(kMaxChunksPerBulletin + 1);
  EXPECT_THAT(package_bulletin(1, s, 24000, 20, 1).error().message,
              HasSubstr("16385 chunks exceed the limit of 16384"));
  s = make_stream(10);
  EXPECT_THAT(package_bulletin(1, s, 24000, 20, 0).error().message,
              HasSubstr("packets per chunk 0 outside 1..250"));
  EXPECT_FALSE(package_bulletin(1, s, 24000, 20, kMaxPacketsPerChunk + 1).ok());
  EXPECT_TRUE(package_bulletin(1, s, 24000, 20, kMaxPacketsPerChunk).ok());
  s.packets[4].clear();
  EXPECT_THAT(package_bulletin(1, s, 24000).error().message,
              HasSubstr("packet 4 has 0 bytes (1..1275)"));
  s.packets[4].assign(kMaxOpusPacket + 1, 1);
  EXPECT_FALSE(package_bulletin(1, s, 24000).ok());
  s = make_stream(kMaxPacketsPerChunk);
  for (auto& p : s.packets) p.assign(kMaxOpusPacket, 0x11);  // 250 x 1277 bytes > 256 KiB
  EXPECT_THAT(package_bulletin(1, s, 24000, 20, kMaxPacketsPerChunk).error().message,
              HasSubstr("above the body limit of 262144"));
  EXPECT_TRUE(package_bulletin(1, s, 24000, 20, 100).ok());
  s = make_stream(10);
  s.channels = 0;
  EXPECT_THAT(package_bulletin(1, s, 24000).error().message, HasSubstr("channel count 0"));
}

TEST(Bulletin, StereoRoundTrips) {
  OpusStream s = make_stream(51);
  s.channels = 2;
  auto pkg = package_bulletin(5, s, 32000, 40);
  ASSERT_TRUE(pkg.ok());
  EXPECT_EQ(pkg->manifest.frame_ms, 40);
  BulletinAssembler assembler(pkg->manifest);
  std::vector<Bytes> bodies = pkg->chunk_bodies;
  std::mt19937 rng(7);
  std::shuffle(bodies.begin(), bodies.end(), rng);
  for (const auto& b : bodies) ASSERT_TRUE(assembler.add(b).ok());
  auto back = join(assembler, pkg->chunk_bodies);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
}

}  // namespace
}  // namespace loa::protocol
