#include <gtest/gtest.h>

#include "loa/controller/local_time.hpp"

using namespace loa::controller;

namespace {
constexpr Micros kSecond = 1'000'000;
}

TEST(LocalTime, HoChiMinhIsSevenHoursAhead) {
  auto t = local_to_utc("2026-12-01T06:30", "Asia/Ho_Chi_Minh");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(format_utc(*t), "2026-11-30T23:30:00Z");
  EXPECT_EQ(format_local(*t, "Asia/Ho_Chi_Minh"), "2026-12-01T06:30:00+07:00");
  auto with_seconds = local_to_utc("2026-12-01T06:30:15", "Asia/Ho_Chi_Minh");
  ASSERT_TRUE(with_seconds.ok());
  EXPECT_EQ(*with_seconds - *t, 15 * kSecond);
}

TEST(LocalTime, UtcRoundTrips) {
  auto t = local_to_utc("2030-01-02T03:04:05", "UTC");
  ASSERT_TRUE(t.ok());
  auto back = parse_utc(format_utc(*t));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *t);
}

TEST(LocalTime, DaylightSavingGapAndOverlapAreRefused) {
  // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 -> 03:00).
  auto gap = local_to_utc("2026-03-08T02:30", "America/New_York");
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.error().message.find("does not exist"), std::string::npos) << gap.error().message;
  EXPECT_NE(gap.error().message.find("America/New_York"), std::string::npos);
  // 2026-11-01 01:30 happens twice.
  auto overlap = local_to_utc("2026-11-01T01:30", "America/New_York");
  ASSERT_FALSE(overlap.ok());
  EXPECT_NE(overlap.error().message.find("ambiguous"), std::string::npos);
  // Either side of the gap is fine and an hour apart in UTC.
  auto before = local_to_utc("2026-03-08T01:30", "America/New_York");
  auto after = local_to_utc("2026-03-08T03:30", "America/New_York");
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(*after - *before, 3600 * kSecond);
  EXPECT_EQ(format_utc(*before), "2026-03-08T06:30:00Z");
}

TEST(LocalTime, RefusesMalformedTextAndUnknownZones) {
  for (const char* bad :
       {"", "2026-12-01", "2026-12-01T6:30", "2026-13-01T06:30", "2026-02-30T06:30",
        "2026-12-01T24:00", "2026-12-01T06:30x", "2026-12-01T06:30Z", "tomorrow"}) {
    auto t = local_to_utc(bad, "Asia/Ho_Chi_Minh");
    EXPECT_FALSE(t.ok()) << bad;
  }
  auto zone = local_to_utc("2026-12-01T06:30", "Asia/Atlantis");
  ASSERT_FALSE(zone.ok());
  EXPECT_NE(zone.error().message.find("Asia/Atlantis"), std::string::npos);
  EXPECT_FALSE(check_zone("Nowhere/Land").ok());
  EXPECT_TRUE(check_zone("Europe/Berlin").ok());
}

TEST(LocalTime, InstantsForFilters) {
  auto day = parse_instant("2026-12-01", "Asia/Ho_Chi_Minh");
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(format_utc(*day), "2026-11-30T17:00:00Z");
  auto utc = parse_instant("2026-12-01T00:00Z", "Asia/Ho_Chi_Minh");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(format_utc(*utc), "2026-12-01T00:00:00Z");
  auto frac = parse_utc("2026-12-01T00:00:00.250Z");
  ASSERT_TRUE(frac.ok());
  EXPECT_EQ(*frac - *utc, 250'000);
}

// Text from requests and query strings is bounded: an overlong time or zone name is refused
// by its length, and the error does not copy it.
TEST(LocalTime, RefusesOverlongTextAndZoneNamesWithoutEchoingThem) {
  const std::string long_time = "2026-12-01T06:30" + std::string(1 << 20, '0');
  auto t = local_to_utc(long_time, "Asia/Ho_Chi_Minh");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("at most 64"), std::string::npos) << t.error().message;
  EXPECT_LT(t.error().message.size(), 200u);
  auto since = parse_instant("2026-12-01T00:00:00." + std::string(1 << 20, '5') + "Z", "UTC");
  ASSERT_FALSE(since.ok());
  EXPECT_LT(since.error().message.size(), 200u);

  const std::string long_zone = "Asia/" + std::string(1 << 20, 'x');
  auto zone = check_zone(long_zone);
  ASSERT_FALSE(zone.ok());
  EXPECT_NE(zone.message().find("at most 64"), std::string::npos) << zone.message();
  EXPECT_LT(zone.message().size(), 200u);
}

// Years are 1970..9999 and an instant ends by 9999-12-31T23:59:59Z, so that every accepted
// time formats back to text that reads again (format_utc writes four-digit years).
TEST(LocalTime, RefusesYearsOutsideTheRangeTheyFormatIn) {
  auto year_zero = parse_instant("0000-01-01", "Asia/Ho_Chi_Minh");
  ASSERT_FALSE(year_zero.ok());
  EXPECT_NE(year_zero.error().message.find("1970..9999"), std::string::npos)
      << year_zero.error().message;
  EXPECT_FALSE(local_to_utc("1969-12-31T23:00", "UTC").ok());
  EXPECT_FALSE(parse_utc("0001-01-01T00:00:00Z").ok());

  auto past_end = local_to_utc("9999-12-31T23:30", "America/New_York");
  ASSERT_FALSE(past_end.ok());
  EXPECT_NE(past_end.error().message.find("after 9999-12-31T23:59:59Z"), std::string::npos)
      << past_end.error().message;

  auto last = local_to_utc("9999-12-31T23:30", "Asia/Ho_Chi_Minh");
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_EQ(format_utc(*last), "9999-12-31T16:30:00Z");
  auto first = local_to_utc("1970-01-01T00:00", "UTC");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(parse_utc(format_utc(*first)).value(), *first);
}
