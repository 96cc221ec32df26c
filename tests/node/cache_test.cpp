// The cache's size limit (evict what no occurrence needs, oldest first; never what is still
// needed), a full disk (a real tmpfs when the test may mount one), and the prefetcher's report and
// retry of a bulletin the cache refused.
#include "loa/node/cache.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "loa/node/config.hpp"
#include "loa/node/outbox.hpp"
#include "loa/node/prefetcher.hpp"
#include "loa/protocol/topics.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

namespace fs = std::filesystem;
using protocol::MessageType;

constexpr protocol::Micros kT0 = 1'800'000'000'000'000;

std::uint64_t file_size(const Cache& c, std::uint64_t id) {
  return fs::file_size(c.path(id));
}

// Files left in the cache directory other than bulletins (a partial or temporary file).
std::vector<std::string> stray_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".opus") out.push_back(e.path().filename().string());
  }
  return out;
}

// Makes the stored order explicit (mtime is what "oldest" means).
void age(const Cache& c, std::uint64_t id, int seconds_ago) {
  fs::last_write_time(c.path(id),
                      fs::file_time_type::clock::now() - std::chrono::seconds(seconds_ago));
}

class CacheLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stream_ = test::make_stream(4.0);
    auto probe = Cache::open(dir_.file("probe"));
    ASSERT_TRUE(probe.ok());
    ASSERT_TRUE(probe->store(1, stream_).ok());
    one_ = file_size(*probe, 1);
  }
  test::TempDir dir_;
  protocol::OpusStream stream_;
  std::uint64_t one_ = 0;  // bytes of one stored bulletin
};

TEST_F(CacheLimitTest, EvictsOldestUnneededFirstAndNeverOneStillNeeded) {
  auto cache = Cache::open(dir_.file("c"), 3 * one_ + one_ / 2);  // room for three
  ASSERT_TRUE(cache.ok());
  for (std::uint64_t id : {1, 2, 3}) ASSERT_TRUE(cache->store(id, stream_).ok());
  age(*cache, 1, 30);
  age(*cache, 2, 20);
  age(*cache, 3, 10);
  // 1 is the oldest but still scheduled: 2 goes.
  StoreFailure why = StoreFailure::other;
  ASSERT_TRUE(cache->store(4, stream_, {1, 4}, &why).ok());
  EXPECT_EQ(why, StoreFailure::none);
  EXPECT_TRUE(cache->has(1));
  EXPECT_FALSE(cache->has(2));
  EXPECT_TRUE(cache->has(3));
  EXPECT_TRUE(cache->has(4));
  EXPECT_LE(cache->bytes_used(), cache->limit_bytes());
  // Now only 3 is evictable.
  ASSERT_TRUE(cache->store(5, stream_, {1, 4}).ok());
  EXPECT_FALSE(cache->has(3));
  EXPECT_EQ(cache->bulletins_oldest_first().size(), 3u);
}

TEST_F(CacheLimitTest, RefusesWhenOnlyNeededBulletinsRemainAndLeavesNoFile) {
  auto cache = Cache::open(dir_.file("c"), 2 * one_ + one_ / 2);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(cache->store(1, stream_).ok());
  ASSERT_TRUE(cache->store(2, stream_).ok());
  StoreFailure why = StoreFailure::none;
  const loa::Status s = cache->store(3, stream_, {1, 2, 3}, &why);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(why, StoreFailure::limit);
  EXPECT_NE(s.message().find("cache-limit-mb"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(std::to_string(cache->limit_bytes())), std::string::npos);
  EXPECT_TRUE(cache->has(1));
  EXPECT_TRUE(cache->has(2));
  EXPECT_FALSE(cache->has(3));
  EXPECT_TRUE(stray_files(cache->dir()).empty());
  // A bulletin larger than the whole limit never fits.
  auto tiny = Cache::open(dir_.file("tiny"), one_ / 2);
  ASSERT_TRUE(tiny.ok());
  EXPECT_FALSE(tiny->store(1, stream_, {}, &why).ok());
  EXPECT_EQ(why, StoreFailure::limit);
}

TEST_F(CacheLimitTest, ReplacingABulletinCountsOnlyTheNewCopy) {
  auto cache = Cache::open(dir_.file("c"), one_ + one_ / 2);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(cache->store(1, stream_).ok());
  EXPECT_TRUE(cache->store(1, stream_, {1}).ok());
}

// A tmpfs of `kb` KiB mounted on a directory for the test's length (needs CAP_SYS_ADMIN).
class TinyDisk {
 public:
  TinyDisk(const std::string& dir, int kb) : dir_(dir) {
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(kb) + "k";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::string("cannot mount a small tmpfs (") + std::strerror(errno) +
             "); run as root to test a full disk";
    }
  }
  ~TinyDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string why_;
};

TEST_F(CacheLimitTest, FullDiskIsReportedLeavesNoPartialFileAndEvictsOnlyUnneeded) {
  // Room for about two bulletins; the cache limit itself is far away.
  const int kb = static_cast<int>((2 * one_ + one_ / 2) / 1024) + 1;
  TinyDisk disk(dir_.file("disk"), kb);
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  auto cache = Cache::open(dir_.file("disk") + "/cache", 1ull << 30);
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  ASSERT_TRUE(cache->store(1, stream_).ok());
  ASSERT_TRUE(cache->store(2, stream_).ok());
  // Both still needed: the third does not fit, and nothing is left of it.
  StoreFailure why = StoreFailure::none;
  const loa::Status s = cache->store(3, stream_, {1, 2, 3}, &why);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(why, StoreFailure::disk_full);
  EXPECT_EQ(s.message().rfind("disk full: " + cache->path(3), 0), 0u) << s.message();
  EXPECT_FALSE(cache->has(3));
  EXPECT_TRUE(stray_files(cache->dir()).empty());
  EXPECT_TRUE(cache->has(1));
  EXPECT_TRUE(cache->has(2));
  // 1 no longer needed: it makes room.
  age(*cache, 1, 20);
  ASSERT_TRUE(cache->store(3, stream_, {2, 3}, &why).ok());
  EXPECT_FALSE(cache->has(1));
  EXPECT_TRUE(cache->has(2));
  auto loaded = cache->load(3);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->packets, stream_.packets);
}

TEST(OutboxFullDiskTest, RefusedEventLeavesNoGapAndIsStoredOnceThereIsRoom) {
  test::TempDir dir;
  TinyDisk disk(dir.file("disk"), 256);
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  auto box = Outbox::open(dir.file("disk") + "/outbox.db");
  ASSERT_TRUE(box.ok()) << box.error().message;
  protocol::PlaybackEvent e;
  e.node_id = "n1";
  e.bulletin_id = 7;
  e.outcome = protocol::Outcome::completed;
  e.occurrence_id = 1;
  ASSERT_TRUE((*box)->add(e).ok());
  // Fill the disk to the last byte.
  const std::string filler = dir.file("disk") + "/filler";
  {
    std::FILE* f = std::fopen(filler.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::vector<char> block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
    }
    std::fclose(f);
  }
  bool refused = false;
  for (std::uint64_t occ = 2; occ < 200 && !refused; ++occ) {
    e.occurrence_id = occ;
    e.detail.assign(2000, 'd');  // large rows reach the end of the disk quickly
    refused = !(*box)->add(e).ok();
  }
  ASSERT_TRUE(refused) << "the outbox never hit the full disk";
  const std::uint64_t refused_occurrence = e.occurrence_id;
  EXPECT_FALSE((*box)->handled(refused_occurrence));
  const std::uint64_t next = (*box)->next_seq();
  fs::remove(filler);
  auto stored = (*box)->add(e);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->event_seq, next);  // the refused attempt consumed no sequence number
  EXPECT_TRUE((*box)->handled(refused_occurrence));
  auto pending = (*box)->pending();
  ASSERT_TRUE(pending.ok());
  for (std::size_t i = 0; i < pending->size(); ++i) EXPECT_EQ((*pending)[i].event_seq, i + 1);
}

// The prefetcher with a cache that has room for one bulletin.
class PrefetchLimitTest : public CacheLimitTest {
 protected:
  void SetUp() override {
    CacheLimitTest::SetUp();
    auto c = Cache::open(dir_.file("c"), one_ + one_ / 2);
    ASSERT_TRUE(c.ok());
    cache_.emplace(std::move(c).value());
    prefetcher_.emplace(
        Prefetcher::Config{"n1", protocol::KeySet(controller_.public_key), 3'000'000}, *cache_,
        [this](MessageType type, const protocol::Bytes& body) {
          return protocol::seal(type, node_, kT0, 1, body);
        });
    prefetcher_->keep_with([this] { return keep_; });
  }

  // Delivers bulletin `id` (manifest and every chunk) to the prefetcher at `now`, and ticks.
  BusActions deliver(std::uint64_t id, protocol::Micros now) {
    const auto packaged = *protocol::package_bulletin(id, stream_, 24000);
    BusActions all =
        prefetcher_->on_manifest(id,
                                 protocol::seal(MessageType::manifest, controller_, now, 1,
                                                protocol::encode(packaged.manifest)),
                                 now);
    for (const auto& body : packaged.chunk_bodies) {
      all.append(prefetcher_->on_chunk(
          id, protocol::seal(MessageType::audio_chunk, controller_, now, 1, body), now));
    }
    all.append(prefetcher_->tick(now));  // writes the completed bulletin
    return all;
  }

  std::vector<protocol::CacheReport> reports(const BusActions& a) const {
    std::vector<protocol::CacheReport> out;
    for (const auto& p : a.publish) {
      if (p.topic != protocol::topics::node_up("n1", protocol::topics::UpKind::report)) continue;
      auto r = protocol::open(p.payload, protocol::KeySet(node_.public_key));
      EXPECT_TRUE(r.ok());
      if (r.ok()) out.push_back(*protocol::decode_cache_report(r.opened->body));
    }
    return out;
  }

  protocol::KeyPair controller_ = protocol::KeyPair::generate();
  protocol::KeyPair node_ = protocol::KeyPair::generate();
  std::optional<Cache> cache_;
  std::optional<Prefetcher> prefetcher_;
  std::set<std::uint64_t> keep_;
};

TEST_F(PrefetchLimitTest, RefusedBulletinIsReportedFailedAndStoredOnceTheBlockerIsNoLongerNeeded) {
  keep_ = {1, 2};
  (void)prefetcher_->want({1, 2}, kT0);
  auto r = reports(deliver(1, kT0));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::cached);
  // Bulletin 1 is still scheduled: 2 does not fit and is reported, naming the limit.
  r = reports(deliver(2, kT0 + 1000));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::failed);
  EXPECT_NE(r[0].detail.find("cache-limit-mb"), std::string::npos) << r[0].detail;
  EXPECT_FALSE(cache_->has(2));
  EXPECT_TRUE(cache_->has(1));
  EXPECT_EQ(prefetcher_->unstored(), 1u);
  EXPECT_EQ(prefetcher_->stats().store_failures, 1u);
  // A retry after the back-off while 1 is still needed: refused again, not reported again.
  EXPECT_TRUE(reports(prefetcher_->tick(kT0 + 60'000'000)).empty());
  EXPECT_EQ(prefetcher_->stats().store_failures, 2u);
  // Bulletin 1 played (no longer needed): the next plan change stores 2 without a new download.
  keep_ = {2};
  r = reports(prefetcher_->want({2}, kT0 + 61'000'000));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::cached);
  EXPECT_TRUE(cache_->has(2));
  EXPECT_FALSE(cache_->has(1));
  EXPECT_EQ(prefetcher_->unstored(), 0u);
}

TEST_F(PrefetchLimitTest, RefusedBulletinIsRetriedAfterBackoff) {
  keep_ = {1, 2};
  (void)prefetcher_->want({1, 2}, kT0);
  (void)deliver(1, kT0);
  (void)deliver(2, kT0);
  ASSERT_EQ(prefetcher_->unstored(), 1u);
  keep_ = {2};  // 1 ended; the plan did not change
  EXPECT_TRUE(prefetcher_->tick(kT0 + 1'000'000).publish.empty());  // back-off not over
  auto r = reports(prefetcher_->tick(kT0 + 10'000'000));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, protocol::CacheState::cached);
  EXPECT_TRUE(cache_->has(2));
}

TEST(CacheLimitConfigTest, KeyIsValidatedAndConverted) {
  NodeOptions o;
  o.id = "n1";
  o.area = "79";
  o.controller_key = {"/dev/null"};
  o.cache_limit_mb = -1;
  const loa::Status bad = validate(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("cache-limit-mb"), std::string::npos) << bad.message();
  o.cache_limit_mb = 0;
  EXPECT_TRUE(validate(o).ok());
}

}  // namespace
}  // namespace loa::node
