#include "loa/node/outbox.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace loa::node
