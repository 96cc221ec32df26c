// A sender's envelope sequence: it rises across clock steps and restarts because each value is
// reserved durably before use, and the reservation file is read back exactly.
#include "loa/runtime/sequence.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace loa::runtime {
namespace {

constexpr protocol::Micros kNow = 1'790'000'000'000'000;  // late 2026, in µs
constexpr protocol::Micros kDay = 24LL * 3600 * 1'000'000;

TEST(SequenceCounter, RisesAcrossAClockJumpForwardAndBackAndARestart) {
  std::uint64_t stored = 0;
  std::vector<std::uint64_t> reservations;
  const auto reserve = [&](std::uint64_t through) {
    reservations.push_back(through);
    stored = through;
    return Status{};
  };
  std::uint64_t ahead = 0;
  {
    SequenceCounter c(stored, reserve);
    EXPECT_EQ(c.next(kNow), static_cast<std::uint64_t>(kNow));
    EXPECT_EQ(c.next(kNow), static_cast<std::uint64_t>(kNow) + 1);  // same instant: still rises
    ahead = c.next(kNow + kDay);                                    // the clock jumps a day
    EXPECT_EQ(ahead, static_cast<std::uint64_t>(kNow + kDay));
    EXPECT_EQ(c.next(kNow + 1), ahead + 1);  // corrected: keeps rising from where it was
  }
  // Each value was reserved before use, a write per step of clock time, not per value.
  EXPECT_EQ(reservations.size(), 2u);
  EXPECT_GE(stored, ahead + 1);
  // A restart with the clock right: above everything used, and above the reservation.
  const std::uint64_t reserved = stored;
  SequenceCounter again(reserved, reserve);
  EXPECT_GT(again.next(kNow + 2), reserved);
}

TEST(SequenceCounter, AFailedReservationIsRetriedAndTheValueStillUsed) {
  bool fail = true;
  std::uint64_t stored = 0;
  SequenceCounter c(0, [&](std::uint64_t through) {
    if (fail) return Status(make_error("disk full"));
    stored = through;
    return Status{};
  });
  EXPECT_EQ(c.next(kNow), static_cast<std::uint64_t>(kNow));
  EXPECT_EQ(stored, 0u);
  fail = false;
  EXPECT_EQ(c.next(kNow), static_cast<std::uint64_t>(kNow) + 1);
  EXPECT_GT(stored, static_cast<std::uint64_t>(kNow) + 1);
}

TEST(SequenceFile, WrittenAndReadBack) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("loa-sequence-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "controller.sequence").string();
  auto missing = read_sequence_file(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0u);
  ASSERT_TRUE(write_sequence_file(path, 18446744073709551615ull).ok());
  auto back = read_sequence_file(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, 18446744073709551615ull);
  std::ofstream(path) << "12x\n";
  auto bad = read_sequence_file(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace loa::runtime
