#include "loa/node/prefetcher.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "loa/protocol/topics.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::KeyPair;
using protocol::MessageType;
namespace topics = protocol::topics;

constexpr protocol::Micros kT0 = 1'800'000'000'000'000;
constexpr protocol::Micros kTimeout = 3'000'000;
constexpr std::uint64_t kBulletin = 7;

class PrefetcherTest : public ::testing::Test {
 protected:
  PrefetcherTest()
      : cache_(*Cache::open(dir_.file("cache"))),
        prefetcher_(Prefetcher::Config{"n1", protocol::KeySet(controller_.public_key), kTimeout},
                    cache_, [this](MessageType type, const protocol::Bytes& body) {
                      return protocol::seal(type, node_, kT0, 1, body);
                    }) {
    stream_ = test::make_stream(2.5);  // 125 packets: 3 chunks of 50
    packaged_ = *protocol::package_bulletin(kBulletin, stream_, 24000);
  }

  protocol::Bytes manifest(const KeyPair& signer, std::uint64_t sequence = 1) const {
    return protocol::seal(MessageType::manifest, signer, kT0, sequence,
                          protocol::encode(packaged_.manifest));
  }
  protocol::Bytes chunk(std::uint32_t i, bool tamper = false) const {
    protocol::Bytes body = packaged_.chunk_bodies[i];
    if (tamper) body.back() ^= 1;
    return protocol::seal(MessageType::audio_chunk, controller_, kT0, 1, body);
  }
  // The bodies of the messages published on one up topic.
  std::vector<protocol::Bytes> sent(const BusActions& a, topics::UpKind kind) const {
    std::vector<protocol::Bytes> out;
    for (const auto& p : a.publish) {
      if (p.topic != topics::node_up("n1", kind)) continue;
      auto r = protocol::open(p.payload, protocol::KeySet(node_.public_key));
      EXPECT_TRUE(r.ok());
      if (r.ok()) out.emplace_back(r.opened->body.begin(), r.opened->body.end());
    }
    return out;
  }
  std::vector<protocol::Fetch> fetches(const BusActions& a) const {
    std::vector<protocol::Fetch> out;
    for (const auto& b : sent(a, topics::UpKind::fetch)) out.push_back(*protocol::decode_fetch(b));
    return out;
  }
  std::vector<protocol::CacheReport> reports(const BusActions& a) const {
    std::vector<protocol::CacheReport> out;
    for (const auto& b : sent(a, topics::UpKind::report)) {
      out.push_back(*protocol::decode_cache_report(b));
    }
    return out;
  }

  test::TempDir dir_;
  KeyPair controller_ = KeyPair::generate();
  KeyPair node_ = KeyPair::generate();
  Cache cache_;
  Prefetcher prefetcher_;
  protocol::OpusStream stream_;
  protocol::PackagedBulletin packaged_;
};

TEST_F(PrefetcherTest, TamperedChunkIsDroppedFetchedAgainAndTheBulletinCached) {
  ASSERT_EQ(packaged_.chunk_bodies.size(), 3u);
  BusActions a = prefetcher_.want({kBulletin}, kT0);
  ASSERT_EQ(a.subscribe_best_effort, std::vector<std::string>{topics::bulletin_filter(kBulletin)});
  // A verified manifest is followed at once by a request for every chunk.
  a = prefetcher_.on_manifest(kBulletin, manifest(controller_), kT0);
  auto first = fetches(a);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].indices, (std::vector<std::uint32_t>{0, 1, 2}));
  prefetcher_.on_chunk(kBulletin, chunk(0), kT0 + 10);
  prefetcher_.on_chunk(kBulletin, chunk(1, true), kT0 + 20);
  prefetcher_.on_chunk(kBulletin, chunk(2), kT0 + 30);
  EXPECT_EQ(prefetcher_.stats().chunks_dropped, 1u);
  EXPECT_EQ(prefetcher_.stats().chunks_accepted, 2u);
  EXPECT_FALSE(cache_.has(kBulletin));

  EXPECT_TRUE(prefetcher_.tick(kT0 + 30 + kTimeout - 1).empty());
  a = prefetcher_.tick(kT0 + 30 + kTimeout);
  const auto f = fetches(a);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].bulletin_id, kBulletin);
  EXPECT_FALSE(f[0].want_manifest);
  EXPECT_EQ(f[0].indices, std::vector<std::uint32_t>{1});
  EXPECT_EQ(f[0].node_id, "n1");

  a = prefetcher_.on_chunk(kBulletin, chunk(1), kT0 + kTimeout + 100);
  EXPECT_EQ(a.unsubscribe, std::vector<std::string>{topics::bulletin_filter(kBulletin)});
  EXPECT_FALSE(prefetcher_.fetching(kBulletin));
  // Complete: the file is written by the next tick (not on the MQTT thread).
  EXPECT_TRUE(reports(a).empty());
  EXPECT_FALSE(cache_.has(kBulletin));
  EXPECT_EQ(prefetcher_.unstored(), 1u);
  a = prefetcher_.tick(kT0 + kTimeout + 200);
  const auto r = reports(a);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::cached);
  EXPECT_EQ(prefetcher_.unstored(), 0u);
  ASSERT_TRUE(cache_.has(kBulletin));
  auto loaded = cache_.load(kBulletin);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->packets, stream_.packets);
  EXPECT_EQ(loaded->pre_skip, stream_.pre_skip);
  EXPECT_EQ(loaded->total_samples, stream_.total_samples);
}

TEST_F(PrefetcherTest, MissingChunksAreFetchedWithBackoffUntilProgress) {
  (void)prefetcher_.want({kBulletin}, kT0);
  EXPECT_EQ(fetches(prefetcher_.on_manifest(kBulletin, manifest(controller_), kT0)).size(), 1u);
  (void)prefetcher_.on_chunk(kBulletin, chunk(1), kT0);
  const protocol::Micros t = kT0;
  auto f = fetches(prefetcher_.tick(t + kTimeout));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].indices, (std::vector<std::uint32_t>{0, 2}));
  // Retries double: T, then 2T, then 4T after the previous one.
  EXPECT_TRUE(fetches(prefetcher_.tick(t + 2 * kTimeout - 1)).empty());
  EXPECT_EQ(fetches(prefetcher_.tick(t + 2 * kTimeout)).size(), 1u);
  EXPECT_TRUE(fetches(prefetcher_.tick(t + 4 * kTimeout - 1)).empty());
  EXPECT_EQ(fetches(prefetcher_.tick(t + 4 * kTimeout)).size(), 1u);
  EXPECT_TRUE(fetches(prefetcher_.tick(t + 8 * kTimeout - 1)).empty());
  // Progress resets the backoff: after a quiet timeout the rest is asked for at once.
  (void)prefetcher_.on_chunk(kBulletin, chunk(0), t + 8 * kTimeout);
  f = fetches(prefetcher_.tick(t + 9 * kTimeout));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].indices, std::vector<std::uint32_t>{2});
  EXPECT_EQ(prefetcher_.stats().fetches_sent, 5u);  // the first right after the manifest
}

TEST_F(PrefetcherTest, OnlyTheFirstFetchNamesTheManifestItFollows) {
  (void)prefetcher_.want({kBulletin}, kT0);
  auto f = fetches(prefetcher_.on_manifest(kBulletin, manifest(controller_, 41), kT0));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].seen_manifest_sequence, 41u);
  // The controller's next window re-publishes the manifest: nothing new to ask for.
  EXPECT_TRUE(fetches(prefetcher_.on_manifest(kBulletin, manifest(controller_, 42), kT0)).empty());
  (void)prefetcher_.on_chunk(kBulletin, chunk(0), kT0 + 10);
  // A repeated request names no manifest, so the controller serves all of it.
  f = fetches(prefetcher_.tick(kT0 + 10 + kTimeout));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].indices, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(f[0].seen_manifest_sequence, 0u);
}

TEST_F(PrefetcherTest, NoManifestAsksForIt) {
  (void)prefetcher_.want({kBulletin}, kT0);
  // Chunks that arrive before the manifest are kept.
  (void)prefetcher_.on_chunk(kBulletin, chunk(0), kT0);
  (void)prefetcher_.on_chunk(kBulletin, chunk(2), kT0);
  const auto f = fetches(prefetcher_.tick(kT0 + kTimeout));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].want_manifest);
  EXPECT_TRUE(f[0].indices.empty());
  (void)prefetcher_.on_manifest(kBulletin, manifest(controller_), kT0 + kTimeout);
  (void)prefetcher_.on_chunk(kBulletin, chunk(1), kT0 + kTimeout);
  ASSERT_EQ(reports(prefetcher_.tick(kT0 + kTimeout)).size(), 1u);
  EXPECT_TRUE(cache_.has(kBulletin));
}

TEST_F(PrefetcherTest, ManifestOfUnknownKeyIsRejectedAndReportedOnce) {
  (void)prefetcher_.want({kBulletin}, kT0);
  const KeyPair stranger = KeyPair::generate();
  BusActions a = prefetcher_.on_manifest(kBulletin, manifest(stranger), kT0);
  auto r = reports(a);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::rejected);
  EXPECT_NE(r[0].detail.find("unknown_key"), std::string::npos) << r[0].detail;
  EXPECT_TRUE(reports(prefetcher_.on_manifest(kBulletin, manifest(stranger), kT0)).empty());
  EXPECT_EQ(prefetcher_.stats().manifests_rejected, 2u);
  // Still no manifest: the node asks for the real one.
  auto f = fetches(prefetcher_.tick(kT0 + kTimeout));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].want_manifest);
  // A manifest for another bulletin on this one's topic is refused too.
  auto other = packaged_.manifest;
  other.bulletin_id = kBulletin + 1;
  r = reports(prefetcher_.on_manifest(
      kBulletin,
      protocol::seal(MessageType::manifest, controller_, kT0, 1, protocol::encode(other)), kT0));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::rejected);
}

TEST_F(PrefetcherTest, ChunkSignedByStrangerIsDropped) {
  (void)prefetcher_.want({kBulletin}, kT0);
  (void)prefetcher_.on_manifest(kBulletin, manifest(controller_), kT0);
  const KeyPair stranger = KeyPair::generate();
  (void)prefetcher_.on_chunk(
      kBulletin,
      protocol::seal(MessageType::audio_chunk, stranger, kT0, 1, packaged_.chunk_bodies[0]), kT0);
  EXPECT_EQ(prefetcher_.stats().chunks_dropped, 1u);
  EXPECT_EQ(prefetcher_.stats().chunks_accepted, 0u);
}

// After the verified manifest, the digest it lists authenticates a chunk; before it, only the
// signature can, so a chunk with a broken signature is not kept.
TEST_F(PrefetcherTest, ChunksAreAuthenticatedByTheManifestsDigestOnceItIsHere) {
  const auto broken_signature = [&](std::uint32_t i, bool tamper) {
    protocol::Bytes envelope = chunk(i, tamper);
    envelope.back() ^= 1;
    return envelope;
  };
  (void)prefetcher_.want({kBulletin}, kT0);
  (void)prefetcher_.on_chunk(kBulletin, broken_signature(0, false), kT0);
  EXPECT_EQ(prefetcher_.stats().chunks_dropped, 1u);  // before the manifest: refused
  (void)prefetcher_.on_manifest(kBulletin, manifest(controller_), kT0);
  EXPECT_EQ(prefetcher_.stats().chunks_accepted, 0u);  // nothing was kept early
  (void)prefetcher_.on_chunk(kBulletin, broken_signature(0, false), kT0);
  EXPECT_EQ(prefetcher_.stats().chunks_accepted, 1u);  // the genuine body: its digest matches
  (void)prefetcher_.on_chunk(kBulletin, broken_signature(1, true), kT0);
  EXPECT_EQ(prefetcher_.stats().chunks_dropped, 2u);  // a changed body: its digest does not
  EXPECT_EQ(prefetcher_.stats().chunks_accepted, 1u);
}

TEST_F(PrefetcherTest, CachedBulletinIsReportedOnceAndNotFetched) {
  ASSERT_TRUE(cache_.store(kBulletin, stream_).ok());
  BusActions a = prefetcher_.want({kBulletin}, kT0);
  EXPECT_TRUE(a.subscribe.empty());
  EXPECT_TRUE(a.subscribe_best_effort.empty());
  auto r = reports(a);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::cached);
  EXPECT_TRUE(prefetcher_.want({kBulletin}, kT0).empty());
}

TEST_F(PrefetcherTest, BulletinNoLongerWantedIsDropped) {
  (void)prefetcher_.want({kBulletin}, kT0);
  const BusActions a = prefetcher_.want({}, kT0);
  EXPECT_EQ(a.unsubscribe, std::vector<std::string>{topics::bulletin_filter(kBulletin)});
  EXPECT_TRUE(prefetcher_.tick(kT0 + 10 * kTimeout).empty());
}

TEST_F(PrefetcherTest, ChunksWaitInASpoolFileUntilTheBulletinIsWhole) {
  const std::string part = dir_.file("cache") + "/" + std::to_string(kBulletin) + ".part";
  (void)prefetcher_.want({kBulletin}, kT0);
  (void)prefetcher_.on_manifest(kBulletin, manifest(controller_), kT0);
  (void)prefetcher_.on_chunk(kBulletin, chunk(2), kT0);
  (void)prefetcher_.on_chunk(kBulletin, chunk(0), kT0);
  (void)prefetcher_.on_chunk(kBulletin, chunk(0), kT0);  // a duplicate is not written twice
  ASSERT_TRUE(std::filesystem::exists(part));
  EXPECT_EQ(std::filesystem::file_size(part),
            packaged_.chunk_bodies[0].size() + packaged_.chunk_bodies[2].size());
  EXPECT_FALSE(cache_.has(kBulletin));

  // A crash here leaves the spool behind: a cache opened again removes it (fetched again).
  const std::string copy = dir_.file("stale.part");
  std::filesystem::copy_file(part, copy);
  (void)prefetcher_.on_chunk(kBulletin, chunk(1), kT0);
  EXPECT_TRUE(std::filesystem::exists(part));  // until the next tick writes the file
  (void)prefetcher_.tick(kT0);
  EXPECT_TRUE(cache_.has(kBulletin));
  EXPECT_FALSE(std::filesystem::exists(part));
  EXPECT_EQ(cache_.load(kBulletin)->packets, stream_.packets);
  std::filesystem::rename(copy, part);
  ASSERT_TRUE(Cache::open(dir_.file("cache")).ok());
  EXPECT_FALSE(std::filesystem::exists(part));
  EXPECT_TRUE(cache_.has(kBulletin));
}

// Bytes the process has allocated now (glibc: heap in use plus mmapped blocks).
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// A node fetches, stores and plays a bulletin of any length in a few hundred kilobytes: the
// chunks go to a spool file, the Ogg file is written and read back a page at a time. A 10-minute
// bulletin is 1.8 MB of packets; holding it as packets (as nodes did before) costs more than twice
// that on the heap.
TEST_F(PrefetcherTest, ATenMinuteBulletinIsFetchedAndReadWithoutHoldingItInMemory) {
  if (heap_in_use() == 0) GTEST_SKIP() << "mallinfo2 reports nothing under this allocator";
  protocol::OpusStream ten;
  ten.pre_skip = 312;
  for (int i = 0; i < 30'000; ++i) {  // 20 ms packets that parse (one SILK frame), 50-70 bytes
    protocol::Bytes packet(50 + i % 21, static_cast<std::uint8_t>(i));
    packet[0] = 0x08;
    ten.packets.push_back(std::move(packet));
  }
  ten.total_samples = 30'000 * 960 - 312 - 500;
  constexpr std::uint64_t kLong = 8;
  auto pkg = protocol::package_bulletin(kLong, ten, 24000);
  ASSERT_TRUE(pkg.ok());
  ASSERT_EQ(pkg->chunk_bodies.size(), 600u);
  std::size_t audio_bytes = 0;
  for (const auto& p : ten.packets) audio_bytes += p.size();
  ten.packets = {};

  const std::size_t base = heap_in_use();
  std::size_t peak = base;
  (void)prefetcher_.want({kLong}, kT0);
  (void)prefetcher_.on_manifest(
      kLong,
      protocol::seal(MessageType::manifest, controller_, kT0, 1, protocol::encode(pkg->manifest)),
      kT0);
  for (const auto& body : pkg->chunk_bodies) {
    (void)prefetcher_.on_chunk(
        kLong, protocol::seal(MessageType::audio_chunk, controller_, kT0, 1, body), kT0);
    peak = std::max(peak, heap_in_use());
  }
  const auto t0 = std::chrono::steady_clock::now();
  const BusActions last = prefetcher_.tick(kT0);  // writes the file
  const auto storing = std::chrono::steady_clock::now() - t0;
  peak = std::max(peak, heap_in_use());
  ASSERT_EQ(reports(last).size(), 1u);
  EXPECT_EQ(reports(last)[0].state, protocol::CacheState::cached);
  const std::size_t fetching = peak - base;

  peak = heap_in_use();
  const std::size_t before_play = peak;
  const auto t1 = std::chrono::steady_clock::now();
  auto audio = cache_.open_audio(kLong);
  const auto checking = std::chrono::steady_clock::now() - t1;
  ASSERT_TRUE(audio.ok()) << audio.error().message;
  EXPECT_EQ(audio->info.total_samples, 30'000u * 960 - 312 - 500);
  std::size_t packets = 0;
  for (;;) {
    auto packet = audio->packets.next();
    ASSERT_TRUE(packet.ok()) << packet.error().message;
    if (!*packet) break;
    ++packets;
    peak = std::max(peak, heap_in_use());
  }
  EXPECT_EQ(packets, 30'000u);
  const std::size_t playing = peak - before_play;
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf(
      "10-minute bulletin, %zu bytes of packets: %zu bytes of heap while fetching, %zu "
      "while reading; writing the file %.1f ms, checking it before playing %.1f ms\n",
      audio_bytes, fetching, playing, ms(storing), ms(checking));
  EXPECT_LT(fetching, audio_bytes / 4);
  EXPECT_LT(playing, audio_bytes / 8);
}

}  // namespace
}  // namespace loa::node
