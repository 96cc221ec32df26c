// Expected instants are written out by hand from the zones' known offsets:
// Asia/Ho_Chi_Minh +07:00 all year; America/New_York -05:00, -04:00 from 2026-03-08 02:00 to
// 2026-11-01 02:00; Europe/Berlin +01:00, +02:00 from 2026-03-29 02:00 to 2026-10-25 03:00.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loa/controller/local_time.hpp"
#include "loa/controller/recurrence.hpp"

using namespace loa::controller;

namespace {

constexpr const char* kHcm = "Asia/Ho_Chi_Minh";

Micros utc(const char* text) {
  auto t = parse_utc(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : 0;
}

// Expands `rrule` from `start` and returns the instants as "YYYY-MM-DDTHH:MM:SSZ".
std::vector<std::string> run(std::string_view rrule, std::string_view start, std::string_view tz,
                             const char* from, const char* to, std::size_t max = 1000) {
  auto rule = parse_rrule(rrule);
  EXPECT_TRUE(rule.ok()) << rrule << ": " << (rule.ok() ? "" : rule.error().message);
  if (!rule.ok()) return {};
  auto instants = expand(*rule, start, tz, utc(from), utc(to), max);
  EXPECT_TRUE(instants.ok()) << rrule << ": " << (instants.ok() ? "" : instants.error().message);
  if (!instants.ok()) return {};
  std::vector<std::string> out;
  for (Micros t : *instants) out.push_back(format_utc(t));
  return out;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST(Recurrence, DailyInHoChiMinh) {
  EXPECT_EQ(
      run("FREQ=DAILY", "2026-12-01T06:30", kHcm, "2026-11-30T00:00:00Z", "2026-12-04T00:00:00Z"),
      (Strings{"2026-11-30T23:30:00Z", "2026-12-01T23:30:00Z", "2026-12-02T23:30:00Z",
               "2026-12-03T23:30:00Z"}));
  // The window is half-open and nothing precedes the start.
  EXPECT_EQ(
      run("FREQ=DAILY", "2026-12-01T06:30", kHcm, "2026-11-01T00:00:00Z", "2026-12-01T23:30:00Z"),
      (Strings{"2026-11-30T23:30:00Z"}));
  // No daylight saving: the same UTC time on the dates other zones change.
  EXPECT_EQ(
      run("FREQ=DAILY", "2026-03-28T06:30", kHcm, "2026-03-27T00:00:00Z", "2026-03-30T00:00:00Z"),
      (Strings{"2026-03-27T23:30:00Z", "2026-03-28T23:30:00Z", "2026-03-29T23:30:00Z"}));
}

TEST(Recurrence, SeveralTimesADay) {
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30", "2026-12-01T00:00", kHcm,
                "2026-11-30T00:00:00Z", "2026-12-02T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-01T10:30:00Z", "2026-12-01T23:30:00Z"}));
  // Minute from DTSTART; the 06:30 before the start is not produced.
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=17,6", "2026-12-01T17:30", kHcm, "2026-11-30T00:00:00Z",
                "2026-12-02T00:00:00Z"),
            (Strings{"2026-12-01T10:30:00Z", "2026-12-01T23:30:00Z"}));
  // Several minutes in one hour.
  EXPECT_EQ(run("FREQ=DAILY;BYMINUTE=0,30", "2026-12-01T08:00", kHcm, "2026-12-01T00:00:00Z",
                "2026-12-02T00:00:00Z"),
            (Strings{"2026-12-01T01:00:00Z", "2026-12-01T01:30:00Z"}));
}

TEST(Recurrence, WeekdaysOnlyAndWeeklyOnChosenDays) {
  // 2026-12-04 is a Friday.
  EXPECT_EQ(run("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "2026-12-04T06:30", kHcm, "2026-12-01T00:00:00Z",
                "2026-12-08T00:00:00Z"),
            (Strings{"2026-12-03T23:30:00Z", "2026-12-06T23:30:00Z", "2026-12-07T23:30:00Z"}));
  // 2026-12-01 is a Tuesday: Wed 2, Fri 4, Mon 7, Wed 9.
  EXPECT_EQ(run("FREQ=WEEKLY;BYDAY=MO,WE,FR", "2026-12-01T06:30", kHcm, "2026-11-30T00:00:00Z",
                "2026-12-09T00:00:00Z"),
            (Strings{"2026-12-01T23:30:00Z", "2026-12-03T23:30:00Z", "2026-12-06T23:30:00Z",
                     "2026-12-08T23:30:00Z"}));
  // Without BYDAY: DTSTART's weekday.
  EXPECT_EQ(
      run("FREQ=WEEKLY", "2026-12-01T06:30", kHcm, "2026-11-30T00:00:00Z", "2026-12-16T00:00:00Z"),
      (Strings{"2026-11-30T23:30:00Z", "2026-12-07T23:30:00Z", "2026-12-14T23:30:00Z"}));
}

TEST(Recurrence, EveryTwoWeeks) {
  EXPECT_EQ(run("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-12-01T06:30", kHcm, "2026-11-30T00:00:00Z",
                "2027-01-13T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-14T23:30:00Z", "2026-12-28T23:30:00Z",
                     "2027-01-11T23:30:00Z"}));
  // Weeks start on Monday: the Monday of the start's week is skipped (before the start), the
  // Monday two weeks later is produced.
  EXPECT_EQ(run("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", "2026-12-01T06:30", kHcm,
                "2026-11-30T00:00:00Z", "2026-12-17T00:00:00Z"),
            (Strings{"2026-12-01T23:30:00Z", "2026-12-13T23:30:00Z", "2026-12-15T23:30:00Z"}));
  EXPECT_EQ(run("FREQ=DAILY;INTERVAL=3", "2026-12-01T06:30", kHcm, "2026-11-30T00:00:00Z",
                "2026-12-08T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-03T23:30:00Z", "2026-12-06T23:30:00Z"}));
}

TEST(Recurrence, MonthlyNthWeekday) {
  // First Mondays of 2027: Jan 4, Feb 1, Mar 1, Apr 5. 07:00 in Ho Chi Minh is 00:00Z.
  EXPECT_EQ(run("FREQ=MONTHLY;BYDAY=1MO", "2027-01-01T07:00", kHcm, "2027-01-01T00:00:00Z",
                "2027-05-01T00:00:00Z"),
            (Strings{"2027-01-04T00:00:00Z", "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z",
                     "2027-04-05T00:00:00Z"}));
  // Last Fridays of 2027: Jan 29, Feb 26, Mar 26, Apr 30. 17:00 is 10:00Z.
  EXPECT_EQ(run("FREQ=MONTHLY;BYDAY=-1FR", "2027-01-01T17:00", kHcm, "2027-01-01T00:00:00Z",
                "2027-05-01T00:00:00Z"),
            (Strings{"2027-01-29T10:00:00Z", "2027-02-26T10:00:00Z", "2027-03-26T10:00:00Z",
                     "2027-04-30T10:00:00Z"}));
  // Second Tuesday: Jan 12, Feb 9, Mar 9 2027; fifth Friday only in January (29) and April (30).
  EXPECT_EQ(run("FREQ=MONTHLY;BYDAY=2TU", "2027-01-01T12:00", "UTC", "2027-01-01T00:00:00Z",
                "2027-04-01T00:00:00Z"),
            (Strings{"2027-01-12T12:00:00Z", "2027-02-09T12:00:00Z", "2027-03-09T12:00:00Z"}));
  EXPECT_EQ(run("FREQ=MONTHLY;BYDAY=5FR", "2027-01-01T12:00", "UTC", "2027-01-01T00:00:00Z",
                "2027-05-01T00:00:00Z"),
            (Strings{"2027-01-29T12:00:00Z", "2027-04-30T12:00:00Z"}));
}

TEST(Recurrence, MonthDays) {
  // BYMONTHDAY=31 skips months without a 31st (RFC 5545).
  EXPECT_EQ(run("FREQ=MONTHLY;BYMONTHDAY=31", "2027-01-31T06:00", kHcm, "2027-01-01T00:00:00Z",
                "2027-09-01T00:00:00Z"),
            (Strings{"2027-01-30T23:00:00Z", "2027-03-30T23:00:00Z", "2027-05-30T23:00:00Z",
                     "2027-07-30T23:00:00Z", "2027-08-30T23:00:00Z"}));
  // -1 is the last day, 29 February included in 2028.
  EXPECT_EQ(run("FREQ=MONTHLY;BYMONTHDAY=-1", "2027-12-01T12:00", "UTC", "2027-12-01T00:00:00Z",
                "2028-05-01T00:00:00Z"),
            (Strings{"2027-12-31T12:00:00Z", "2028-01-31T12:00:00Z", "2028-02-29T12:00:00Z",
                     "2028-03-31T12:00:00Z", "2028-04-30T12:00:00Z"}));
  // Without BYMONTHDAY: DTSTART's day, skipped where the month is too short.
  EXPECT_EQ(run("FREQ=MONTHLY", "2027-01-29T12:00", "UTC", "2027-01-01T00:00:00Z",
                "2027-04-01T00:00:00Z"),
            (Strings{"2027-01-29T12:00:00Z", "2027-03-29T12:00:00Z"}));
  EXPECT_EQ(run("FREQ=MONTHLY", "2028-01-29T12:00", "UTC", "2028-01-01T00:00:00Z",
                "2028-04-01T00:00:00Z"),
            (Strings{"2028-01-29T12:00:00Z", "2028-02-29T12:00:00Z", "2028-03-29T12:00:00Z"}));
  // Several days, and BYDAY limiting BYMONTHDAY: Friday the 13th (Aug 2027, Oct 2028).
  EXPECT_EQ(run("FREQ=MONTHLY;BYMONTHDAY=1,15", "2027-01-01T12:00", "UTC", "2027-01-01T00:00:00Z",
                "2027-03-01T00:00:00Z"),
            (Strings{"2027-01-01T12:00:00Z", "2027-01-15T12:00:00Z", "2027-02-01T12:00:00Z",
                     "2027-02-15T12:00:00Z"}));
  EXPECT_EQ(run("FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", "2027-01-01T12:00", "UTC",
                "2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z"),
            (Strings{"2027-08-13T12:00:00Z", "2028-10-13T12:00:00Z"}));
}

TEST(Recurrence, CountUntilAndExceptions) {
  EXPECT_EQ(run("FREQ=DAILY;COUNT=3", "2026-12-01T06:30", kHcm, "2026-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-01T23:30:00Z", "2026-12-02T23:30:00Z"}));
  // COUNT counts from the start, not from the window.
  EXPECT_EQ(run("FREQ=DAILY;COUNT=3", "2026-12-01T06:30", kHcm, "2026-12-02T00:00:00Z",
                "2027-01-01T00:00:00Z"),
            (Strings{"2026-12-02T23:30:00Z"}));
  // COUNT counts each time of day.
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30;COUNT=3", "2026-12-01T00:00", kHcm,
                "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-01T10:30:00Z", "2026-12-01T23:30:00Z"}));
  // An excluded date still uses up its place in COUNT.
  EXPECT_EQ(run("FREQ=DAILY;COUNT=3;EXDATE=2026-12-02", "2026-12-01T06:30", kHcm,
                "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-02T23:30:00Z"}));
  // UNTIL is an inclusive local date.
  EXPECT_EQ(run("FREQ=DAILY;UNTIL=2026-12-03", "2026-12-01T06:30", kHcm, "2026-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-01T23:30:00Z", "2026-12-02T23:30:00Z"}));
  EXPECT_EQ(run("FREQ=WEEKLY;BYDAY=MO,FR;UNTIL=20261211", "2026-12-01T06:30", kHcm,
                "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            (Strings{"2026-12-03T23:30:00Z", "2026-12-06T23:30:00Z", "2026-12-10T23:30:00Z"}));
  // EXDATE removes every time of day on the listed local dates.
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30;EXDATE=2026-12-02,2026-12-04",
                "2026-12-01T00:00", kHcm, "2026-11-30T00:00:00Z", "2026-12-04T12:00:00Z"),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-01T10:30:00Z", "2026-12-02T23:30:00Z",
                     "2026-12-03T10:30:00Z"}));
}

TEST(Recurrence, NewYorkAcrossBothChanges) {
  constexpr const char* kNy = "America/New_York";
  // Spring: 2026-03-08 02:00 EST -> 03:00 EDT. 06:30 keeps its wall time.
  EXPECT_EQ(
      run("FREQ=DAILY", "2026-03-07T06:30", kNy, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"),
      (Strings{"2026-03-07T11:30:00Z", "2026-03-08T10:30:00Z", "2026-03-09T10:30:00Z"}));
  // 02:30 does not exist on 03-08: moved forward by the gap to 03:30 EDT (07:30Z).
  EXPECT_EQ(
      run("FREQ=DAILY", "2026-03-07T02:30", kNy, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"),
      (Strings{"2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}));
  // Autumn: 2026-11-01 02:00 EDT -> 01:00 EST. 01:30 happens twice; the first (EDT) is taken.
  EXPECT_EQ(
      run("FREQ=DAILY", "2026-10-31T01:30", kNy, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z"),
      (Strings{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30", "2026-10-31T00:00", kNy,
                "2026-10-31T00:00:00Z", "2026-11-02T00:00:00Z"),
            (Strings{"2026-10-31T10:30:00Z", "2026-10-31T21:30:00Z", "2026-11-01T11:30:00Z",
                     "2026-11-01T22:30:00Z"}));
}

TEST(Recurrence, BerlinAcrossBothChanges) {
  constexpr const char* kBerlin = "Europe/Berlin";
  // Spring: 2026-03-29 02:00 CET -> 03:00 CEST; 02:30 becomes 03:30 CEST (01:30Z).
  EXPECT_EQ(run("FREQ=DAILY", "2026-03-28T02:30", kBerlin, "2026-03-28T00:00:00Z",
                "2026-03-31T00:00:00Z"),
            (Strings{"2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}));
  // A shifted 02:30 and a real 03:30 are the same instant: played once.
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30", "2026-03-29T00:00", kBerlin,
                "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z"),
            (Strings{"2026-03-29T01:30:00Z"}));
  // Autumn: 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 twice, the CEST one (00:30Z) is taken.
  EXPECT_EQ(run("FREQ=DAILY", "2026-10-24T02:30", kBerlin, "2026-10-24T00:00:00Z",
                "2026-10-27T00:00:00Z"),
            (Strings{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
  // Weekly Sunday 06:30 across both changes.
  EXPECT_EQ(run("FREQ=WEEKLY;BYDAY=SU", "2026-03-22T06:30", kBerlin, "2026-03-01T00:00:00Z",
                "2026-04-01T00:00:00Z"),
            (Strings{"2026-03-22T05:30:00Z", "2026-03-29T04:30:00Z"}));
  EXPECT_EQ(run("FREQ=WEEKLY;BYDAY=SU", "2026-10-18T06:30", kBerlin, "2026-10-01T00:00:00Z",
                "2026-11-02T00:00:00Z"),
            (Strings{"2026-10-18T04:30:00Z", "2026-10-25T05:30:00Z", "2026-11-01T05:30:00Z"}));
}

TEST(Recurrence, MaxKeepsTheEarliest) {
  EXPECT_EQ(run("FREQ=DAILY", "2026-12-01T06:30", kHcm, "2026-01-01T00:00:00Z",
                "2100-01-01T00:00:00Z", 2),
            (Strings{"2026-11-30T23:30:00Z", "2026-12-01T23:30:00Z"}));
  EXPECT_TRUE(
      run("FREQ=DAILY", "2026-12-01T06:30", kHcm, "2026-01-01T00:00:00Z", "2100-01-01T00:00:00Z", 0)
          .empty());
  // A window far after the start.
  EXPECT_EQ(run("FREQ=WEEKLY;BYDAY=TU", "2026-12-01T06:30", kHcm, "2036-12-01T00:00:00Z",
                "2036-12-03T00:00:00Z"),
            (Strings{"2036-12-01T23:30:00Z"}));
}

TEST(Recurrence, WindowYearsAfterTheStart) {
  // 2036 is a leap year: 06:30 on 1 March is 23:30Z on 29 February.
  EXPECT_EQ(run("FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30", "2026-12-01T00:00", kHcm,
                "2036-03-01T00:00:00Z", "2036-03-02T00:00:00Z"),
            (Strings{"2036-03-01T10:30:00Z", "2036-03-01T23:30:00Z"}));
  // Berlin springs forward on Sunday 2030-03-31: 02:30 that day becomes 03:30 CEST (01:30Z).
  EXPECT_EQ(run("FREQ=DAILY", "2026-01-01T02:30", "Europe/Berlin", "2030-03-30T00:00:00Z",
                "2030-04-01T00:00:00Z"),
            (Strings{"2030-03-30T01:30:00Z", "2030-03-31T01:30:00Z"}));
}

TEST(Recurrence, RefusesRulesThatNeverProduce) {
  // Every 12 months from February: never a 31st, whatever the window.
  auto never = parse_rrule("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31");
  ASSERT_TRUE(never.ok());
  auto r = expand(*never, "2027-02-01T06:00", kHcm, utc("2027-01-01T00:00:00Z"),
                  utc("2027-03-01T00:00:00Z"), 100);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no occurrence within 10 years"), std::string::npos)
      << r.error().message;
  // UNTIL before the first occurrence.
  auto early = parse_rrule("FREQ=DAILY;UNTIL=2026-11-30");
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(expand(*early, "2026-12-01T06:30", kHcm, 0, utc("2030-01-01T00:00:00Z"), 10).ok());
  // The next February with five Mondays after 2027 is in 2044: more than 10 years away.
  auto fifth = parse_rrule("FREQ=MONTHLY;INTERVAL=12;BYDAY=5MO");
  ASSERT_TRUE(fifth.ok());
  EXPECT_FALSE(expand(*fifth, "2027-02-01T12:00", "UTC", 0, utc("2050-01-01T00:00:00Z"), 10).ok());
  // 29 February every year from 2027: leap years only.
  auto leap = parse_rrule("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=29");
  ASSERT_TRUE(leap.ok());
  auto ok = expand(*leap, "2027-02-01T12:00", "UTC", 0, utc("2034-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ(format_utc((*ok)[0]), "2028-02-29T12:00:00Z");
  EXPECT_EQ(format_utc((*ok)[1]), "2032-02-29T12:00:00Z");
}

TEST(Recurrence, RefusesBadStartAndZone) {
  auto rule = parse_rrule("FREQ=DAILY");
  ASSERT_TRUE(rule.ok());
  for (const char* bad : {"", "2026-12-01", "2026-12-01T6:30", "2026-02-30T06:30",
                          "2026-12-01T24:00", "20261201T0630"}) {
    auto r = expand(*rule, bad, kHcm, 0, utc("2030-01-01T00:00:00Z"), 10);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("start"), std::string::npos) << r.error().message;
  }
  auto zone = expand(*rule, "2026-12-01T06:30", "Asia/Atlantis", 0, 1, 10);
  ASSERT_FALSE(zone.ok());
  EXPECT_NE(zone.error().message.find("Asia/Atlantis"), std::string::npos);
}

TEST(Recurrence, RefusesOutOfRangeRulesBuiltInCode) {
  Rule hour;
  hour.by_hour = {25};
  Rule interval;
  interval.interval = 0;
  Rule month_day;
  month_day.frequency = Frequency::monthly;
  month_day.by_month_day = {0};
  Rule ordinal;
  ordinal.frequency = Frequency::monthly;
  ordinal.by_day = {{Weekday::monday, 6}};
  for (const Rule& rule : {hour, interval, month_day, ordinal}) {
    auto r = expand(rule, "2026-12-01T06:30", kHcm, 0, utc("2030-01-01T00:00:00Z"), 10);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("RRULE: ", 0), 0u) << r.error().message;
  }
  // Unsorted exception dates built in code still apply.
  Rule exdates;
  exdates.exdates = {{2026, 12, 3}, {2026, 12, 2}};
  auto r = expand(exdates, "2026-12-01T06:30", kHcm, 0, utc("2026-12-03T12:00:00Z"), 10);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(format_utc(r->front()), "2026-11-30T23:30:00Z");
}

TEST(Recurrence, DocumentedExamplesParse) {
  // The rules of docs/scheduling.md, "Examples to copy".
  for (const char* text :
       {"FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=6,17;BYMINUTE=30", "FREQ=DAILY",
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=2027-06-30", "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYMONTHDAY=15,-1", "FREQ=DAILY;COUNT=10",
        "FREQ=DAILY;EXDATE=2027-01-01,2027-09-02"}) {
    auto r = parse_rrule(text);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  }
  // Weekdays only, morning and evening: Friday 4 December 2026, then Monday 7 December.
  EXPECT_EQ(run("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=6,17;BYMINUTE=30", "2026-12-04T00:00",
                kHcm, "2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z"),
            (Strings{"2026-12-03T23:30:00Z", "2026-12-04T10:30:00Z", "2026-12-06T23:30:00Z"}));
}

TEST(Recurrence, ParsesTheSupportedParts) {
  auto r = parse_rrule(
      "rrule:freq=monthly;interval=2;byday=1MO,-1fr,2TU;bymonthday=-1,31;byhour=17,6;"
      "byminute=30;until=20271231;exdate=2027-01-04,20270105;wkst=MO;");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->frequency, Frequency::monthly);
  EXPECT_EQ(r->interval, 2);
  EXPECT_EQ(r->by_day, (std::vector<ByDay>{
                           {Weekday::monday, 1}, {Weekday::friday, -1}, {Weekday::tuesday, 2}}));
  EXPECT_EQ(r->by_month_day, (std::vector<int>{-1, 31}));
  EXPECT_EQ(r->by_hour, (std::vector<int>{6, 17}));
  EXPECT_EQ(r->by_minute, (std::vector<int>{30}));
  EXPECT_FALSE(r->count.has_value());
  ASSERT_TRUE(r->until.has_value());
  EXPECT_EQ(*r->until, (LocalDate{2027, 12, 31}));
  EXPECT_EQ(r->exdates, (std::vector<LocalDate>{{2027, 1, 4}, {2027, 1, 5}}));
  auto c = parse_rrule("FREQ=WEEKLY;COUNT=10");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->count, std::optional<std::size_t>{10});
  EXPECT_EQ(c->interval, 1);
}

TEST(Recurrence, ParseErrorsNameThePart) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"", "RRULE: the rule is empty"},
      {"RRULE:", "RRULE: the rule is empty"},
      {"INTERVAL=2", "RRULE: FREQ is missing"},
      {"FREQ=YEARLY", "RRULE: FREQ 'YEARLY' is not supported"},
      {"FREQ=DAILY;FREQ=WEEKLY", "RRULE: FREQ is given twice"},
      {"FREQ=DAILY;INTERVAL=0", "RRULE: INTERVAL '0' is not a number in 1..1000"},
      {"FREQ=DAILY;INTERVAL=two", "RRULE: INTERVAL 'two'"},
      {"FREQ=WEEKLY;BYDAY=MO,XX", "RRULE: BYDAY 'XX' is not a weekday"},
      {"FREQ=WEEKLY;BYDAY=", "RRULE: BYDAY '' is not a weekday"},
      {"FREQ=MONTHLY;BYDAY=6MO", "RRULE: BYDAY '6MO': the ordinal must be 1..5 or -1..-5"},
      {"FREQ=MONTHLY;BYDAY=0MO", "RRULE: BYDAY '0MO': the ordinal"},
      {"FREQ=MONTHLY;BYDAY=xMO", "RRULE: BYDAY 'XMO': the ordinal"},
      {"FREQ=WEEKLY;BYDAY=1MO", "RRULE: BYDAY '1MO' has an ordinal"},
      {"FREQ=DAILY;BYDAY=-1FR", "RRULE: BYDAY '-1FR' has an ordinal"},
      {"FREQ=MONTHLY;BYMONTHDAY=32", "RRULE: BYMONTHDAY '32' is not a number in 1..31"},
      {"FREQ=MONTHLY;BYMONTHDAY=0", "RRULE: BYMONTHDAY '0'"},
      {"FREQ=MONTHLY;BYMONTHDAY=-32", "RRULE: BYMONTHDAY '-32'"},
      {"FREQ=WEEKLY;BYMONTHDAY=1", "RRULE: BYMONTHDAY is only allowed with FREQ=MONTHLY"},
      {"FREQ=DAILY;BYHOUR=24", "RRULE: BYHOUR '24' is not a number in 0..23"},
      {"FREQ=DAILY;BYHOUR=-1", "RRULE: BYHOUR '-1'"},
      {"FREQ=DAILY;BYMINUTE=60", "RRULE: BYMINUTE '60' is not a number in 0..59"},
      {"FREQ=DAILY;COUNT=0", "RRULE: COUNT '0'"},
      {"FREQ=DAILY;COUNT=many", "RRULE: COUNT 'many'"},
      {"FREQ=DAILY;UNTIL=2026-02-30", "RRULE: UNTIL '2026-02-30' is not a date"},
      {"FREQ=DAILY;UNTIL=20261201T000000Z", "RRULE: UNTIL '20261201T000000Z' is not a date"},
      {"FREQ=DAILY;COUNT=2;UNTIL=2026-12-31", "RRULE: COUNT and UNTIL cannot both be given"},
      {"FREQ=DAILY;EXDATE=2026-12-01,2026-13-01", "RRULE: EXDATE '2026-13-01' is not a date"},
      {"FREQ=DAILY;WKST=SU", "RRULE: WKST 'SU' is not supported"},
      {"FREQ=DAILY;BYSETPOS=1", "RRULE: part 'BYSETPOS' is not supported"},
      {"FREQ=DAILY;BYMONTH=1", "RRULE: part 'BYMONTH' is not supported"},
      {"FREQ=DAILY;junk", "RRULE: part 'junk' is not NAME=VALUE"},
      {"FREQ=DAILY;=3", "RRULE: part '=3' is not NAME=VALUE"},
  };
  for (const auto& [text, expected] : cases) {
    auto r = parse_rrule(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find(expected), std::string::npos)
        << text << " -> " << r.error().message;
  }
}

// The rule is text from a request: its length and its EXDATE list are bounded, with an error
// naming the limit; a year of excluded days is still accepted.
TEST(Recurrence, RefusesRuleTextAndExdateListsBeyondTheirBounds) {
  auto long_rule = parse_rrule("FREQ=DAILY;BYHOUR=" + std::string(9000, '1'));
  ASSERT_FALSE(long_rule.ok());
  EXPECT_NE(long_rule.error().message.find("RRULE: the rule is 9018 bytes; at most 8192"),
            std::string::npos)
      << long_rule.error().message.substr(0, 200);

  // Distinct dates from 2027-01-01 on, `n` of them.
  auto exdates = [](int n) {
    std::string list;
    Micros t = utc("2027-01-01T00:00:00Z");
    for (int i = 0; i < n; ++i, t += 86'400'000'000) {
      list += (list.empty() ? "" : ",") + format_utc(t).substr(0, 10);
    }
    return "FREQ=DAILY;EXDATE=" + list;
  };
  auto year = parse_rrule(exdates(366));
  ASSERT_TRUE(year.ok()) << year.error().message;
  EXPECT_EQ(year->exdates.size(), 366u);
  auto more = parse_rrule(exdates(367));
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.error().message.find("RRULE: EXDATE lists 367 dates; at most 366"),
            std::string::npos)
      << more.error().message;
}

// COUNT is counted from the start however long before the window it is: across a daylight-saving
// gap (where 02:00 and 02:30 move onto 03:00 and 03:30 and count once) and excluded days, a late
// window gets exactly the tail of the whole expansion.
TEST(Recurrence, CountFromAStartLongBeforeTheWindow) {
  auto rule =
      parse_rrule("FREQ=DAILY;COUNT=2000;BYHOUR=1,2,3;BYMINUTE=0,30;EXDATE=20260310,20260601");
  ASSERT_TRUE(rule.ok()) << rule.error().message;
  const char* ny = "America/New_York";
  const Micros end = utc("2028-01-01T00:00:00Z");
  auto all = expand(*rule, "2026-01-01T00:00", ny, utc("2026-01-01T00:00:00Z"), end, 5000);
  ASSERT_TRUE(all.ok()) << all.error().message;
  // 2000 counted: six a day, four on 8 March, twelve excluded on 10 March and 1 June.
  EXPECT_EQ(all->size(), 2000u - 12u);
  const Micros from = utc("2026-10-01T00:00:00Z");
  std::vector<Micros> tail;
  for (Micros t : *all) {
    if (t >= from) tail.push_back(t);
  }
  ASSERT_FALSE(tail.empty());
  auto late = expand(*rule, "2026-01-01T00:00", ny, from, end, 5000);
  ASSERT_TRUE(late.ok()) << late.error().message;
  EXPECT_EQ(*late, tail);
  EXPECT_EQ(format_utc(late->back()), format_utc(all->back()));
}
