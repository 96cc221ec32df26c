#include "loa/node/outbox.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "node_test_support.hpp"

namespace loa::node {
namespace {

protocol::PlaybackEvent event(std::uint64_t occurrence, protocol::Outcome outcome) {
  protocol::PlaybackEvent e;
  e.node_id = "n1";
  e.occurrence_id = occurrence;
  e.bulletin_id = 77;
  e.outcome = outcome;
  e.start_us = 1000;
  e.end_us = 2000;
  e.frames_played = 50;
  return e;
}

TEST(OutboxTest, SequencesAreGaplessAndSurviveReopen) {
  test::TempDir dir;
  const std::string path = dir.file("outbox.db");
  {
    auto box = Outbox::open(path);
    ASSERT_TRUE(box.ok()) << box.error().message;
    EXPECT_EQ((*box)->next_seq(), 1u);
    for (std::uint64_t i = 1; i <= 3; ++i) {
      auto stored = (*box)->add(event(100 + i, protocol::Outcome::completed));
      ASSERT_TRUE(stored.ok()) << stored.error().message;
      EXPECT_EQ(stored->event_seq, i);
    }
  }
  {
    // Nothing receipted: everything is still there after reopening.
    auto box = Outbox::open(path);
    ASSERT_TRUE(box.ok());
    auto pending = (*box)->pending();
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), 3u);
    EXPECT_EQ((*pending)[0].event_seq, 1u);
    EXPECT_EQ((*pending)[2].occurrence_id, 103u);
    EXPECT_EQ((*pending)[2], [] {
      auto e = event(103, protocol::Outcome::completed);
      e.event_seq = 3;
      return e;
    }());
    EXPECT_TRUE((*box)->handled(102));
    EXPECT_FALSE((*box)->handled(999));

    auto deleted = (*box)->acknowledge(2);
    ASSERT_TRUE(deleted.ok());
    EXPECT_EQ(*deleted, 2u);
    pending = (*box)->pending();
    ASSERT_EQ(pending->size(), 1u);
    EXPECT_EQ((*pending)[0].event_seq, 3u);
  }
  {
    // The sequence continues after deletions and a reopen; handled stays handled.
    auto box = Outbox::open(path);
    ASSERT_TRUE(box.ok());
    EXPECT_EQ((*box)->next_seq(), 4u);
    auto stored = (*box)->add(event(200, protocol::Outcome::expired));
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->event_seq, 4u);
    EXPECT_TRUE((*box)->handled(101));
    auto deleted = (*box)->acknowledge(10);
    ASSERT_TRUE(deleted.ok());
    EXPECT_EQ(*deleted, 2u);
    EXPECT_TRUE((*box)->pending()->empty());
    EXPECT_EQ((*box)->next_seq(), 5u);
  }
}

TEST(OutboxTest, ReceiptBelowEverythingDeletesNothing) {
  auto box = Outbox::open(":memory:");
  ASSERT_TRUE(box.ok());
  ASSERT_TRUE((*box)->add(event(1, protocol::Outcome::failed)).ok());
  auto deleted = (*box)->acknowledge(0);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ((*box)->pending()->size(), 1u);
}

TEST(OutboxTest, PlaybackCutShortByACrashEndsOnceAsPartial) {
  test::TempDir dir;
  const std::string path = dir.file("outbox.db");
  {
    auto box = Outbox::open(path);
    ASSERT_TRUE(box.ok());
    ASSERT_TRUE((*box)->add(event(1, protocol::Outcome::completed)).ok());
    auto note = event(2, protocol::Outcome::partial);
    note.frames_played = 50;
    ASSERT_TRUE((*box)->note_playing(note).ok());
    note.frames_played = 120;
    note.end_us = 3400;
    ASSERT_TRUE((*box)->note_playing(note).ok());
    ASSERT_TRUE((*box)->note_playing(event(3, protocol::Outcome::partial)).ok());
    auto zero = event(4, protocol::Outcome::partial);
    zero.frames_played = 0;
    ASSERT_TRUE((*box)->note_playing(zero).ok());
    // The process dies here: no final event for 2 and 4; 3 ends normally.
    ASSERT_TRUE((*box)->add(event(3, protocol::Outcome::completed)).ok());
  }
  auto box = Outbox::open(path);
  ASSERT_TRUE(box.ok());
  EXPECT_FALSE((*box)->handled(2));
  auto recovered = (*box)->recover_interrupted();
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  ASSERT_EQ(recovered->size(), 2u);
  EXPECT_EQ((*recovered)[0].occurrence_id, 2u);
  EXPECT_EQ((*recovered)[0].outcome, protocol::Outcome::partial);
  EXPECT_EQ((*recovered)[0].frames_played, 120u);
  EXPECT_EQ((*recovered)[0].end_us, 3400);
  EXPECT_EQ((*recovered)[0].event_seq, 3u);  // after 1 and 3: no gap
  EXPECT_NE((*recovered)[0].detail.find("interrupted"), std::string::npos);
  EXPECT_EQ((*recovered)[1].occurrence_id, 4u);
  EXPECT_EQ((*recovered)[1].outcome, protocol::Outcome::failed);  // nothing written
  EXPECT_TRUE((*box)->handled(2));
  // Exactly once: a second recovery, a late note and a second event change nothing.
  EXPECT_TRUE((*box)->recover_interrupted()->empty());
  ASSERT_TRUE((*box)->note_playing(event(2, protocol::Outcome::partial)).ok());
  EXPECT_TRUE((*box)->recover_interrupted()->empty());
  EXPECT_FALSE((*box)->add(event(2, protocol::Outcome::completed)).ok());
  auto pending = (*box)->pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 4u);
  for (std::size_t i = 0; i < pending->size(); ++i) EXPECT_EQ((*pending)[i].event_seq, i + 1);
  EXPECT_EQ((*box)->next_seq(), 5u);
}

TEST(OutboxTest, TheWalStaysSmallThroughALongPlayback) {
  test::TempDir dir;
  const std::string path = dir.file("outbox.db");
  auto box = Outbox::open(path);
  ASSERT_TRUE(box.ok());
  // A 10-minute playback noted every second, then its event.
  auto note = event(1, protocol::Outcome::partial);
  std::uintmax_t largest = 0;
  for (int second = 1; second <= 600; ++second) {
    note.frames_played = static_cast<std::uint64_t>(second) * 50;
    note.end_us = second * 1'000'000;
    ASSERT_TRUE((*box)->note_playing(note).ok());
    largest = std::max(largest, std::filesystem::file_size(path + "-wal"));
  }
  ASSERT_TRUE((*box)->add(event(1, protocol::Outcome::completed)).ok());
  // 16 pages of 4 KiB between checkpoints, and a commit's frames on top.
  EXPECT_LT(largest, 160u * 1024) << "bytes of WAL";
  EXPECT_EQ((*box)->pending()->size(), 1u);
}

TEST(OutboxTest, CrashHookSeesBothSidesOfTheCommit) {
  std::vector<std::string> points;
  Outbox::set_crash_hook([&](std::string_view p) { points.emplace_back(p); });
  auto box = Outbox::open(":memory:");
  ASSERT_TRUE(box.ok());
  ASSERT_TRUE((*box)->add(event(1, protocol::Outcome::completed)).ok());
  Outbox::set_crash_hook(nullptr);
  EXPECT_EQ(points, (std::vector<std::string>{"outbox-before-commit", "outbox-after-commit"}));
}

}  // namespace
}  // namespace loa::node
