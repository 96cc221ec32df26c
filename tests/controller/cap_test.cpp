// Issue 5, CAP alerts at the controller: parsing and refusals, Actual vs Test/Exercise, geocode
// mapping, emergency repeats, Update and Cancel, duplicates, and the HTTP endpoints. Fixtures:
// tests/fixtures/cap/*.xml (a storm warning for a commune, in Vietnamese).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "controller_fixture.hpp"
#include "loa/controller/api_server.hpp"
#include "loa/controller/cap_alert.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::open_body;
using loa::test::Recorder;

namespace {

constexpr Micros kSecond = 1'000'000;
constexpr Micros kMinute = 60 * kSecond;

Micros at_utc(const char* text) {
  auto t = parse_utc(text);
  return t.ok() ? *t : 0;
}

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(LOA_SOURCE_DIR) + "/tests/fixtures/cap/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << "fixture " << name;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- the parser alone ----

TEST(CapParse, ReadsTheStormWarningAndPrefersVietnamese) {
  auto a = parse_cap(fixture("storm_actual.xml"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->identifier, "VN-PCTT-2026-0901");
  EXPECT_EQ(a->status, "Actual");
  EXPECT_EQ(a->msg_type, "Alert");
  EXPECT_EQ(a->sent_us, at_utc("2026-11-01T00:00:00Z"));
  ASSERT_EQ(a->infos.size(), 2u);
  const CapInfo* info = preferred_info(*a);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->language, "vi-VN");
  EXPECT_EQ(info->event, "Bão số 9");
  EXPECT_EQ(info->path, "alert/info[2]");
  ASSERT_EQ(info->areas.size(), 2u);
  EXPECT_EQ(info->areas[1].geocodes.at(0).str(), "MA_DVHC=26737");
  EXPECT_EQ(info->parameter("LOA_REPEAT_MINUTES").value_or(""), "15");
  EXPECT_EQ(info->expires_us.value_or(0), at_utc("2026-11-01T03:00:00Z"));
}

TEST(CapParse, TimesNeedAnOffsetAndAValidDate) {
  EXPECT_EQ(parse_cap_time("2026-11-01T07:00:00+07:00").value(), at_utc("2026-11-01T00:00:00Z"));
  EXPECT_EQ(parse_cap_time("2026-11-01T00:00:00-05:30").value(), at_utc("2026-11-01T05:30:00Z"));
  EXPECT_EQ(parse_cap_time("2026-11-01T00:00:00Z").value(), at_utc("2026-11-01T00:00:00Z"));
  EXPECT_FALSE(parse_cap_time("2026-11-01T07:00:00").ok());
  EXPECT_FALSE(parse_cap_time("2026-13-01T07:00:00+07:00").ok());
  EXPECT_FALSE(parse_cap_time("yesterday").ok());
}

TEST(CapParse, DecodesAudioInDerefUri) {
  auto a = parse_cap(fixture("flood_audio.xml"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  const auto& r = preferred_info(*a)->resources.at(0);
  EXPECT_EQ(r.mime_type, "audio/x-wav");
  ASSERT_TRUE(r.deref.has_value());
  EXPECT_EQ(std::string(r.deref->begin(), r.deref->begin() + 4), "RIFF");
}

// ---- the controller ----

class CapTest : public test::ControllerFixture {
 protected:
  ControllerSettings settings() const override {
    ControllerSettings s = ControllerFixture::settings();
    s.missed_grace_us = ControllerSettings{}.missed_grace_us;
    return s;
  }

  void SetUp() override {
    ControllerFixture::SetUp();
    if (HasFatalFailure()) return;
    // Two communes with loudspeakers, a third one not named by the alerts.
    for (const auto& [id, area] : std::vector<std::pair<std::string, std::string>>{
             {"n1", "79/1/01"}, {"n2", "79/1/02"}, {"n3", "79/2/01"}, {"n4", "79/3/01"}}) {
      add_node(id, area, 100);
      if (HasFatalFailure()) return;
    }
    ASSERT_TRUE(controller_->set_cap_geocode({"MA_DVHC", "26734", "79/1"}).ok());
    ASSERT_TRUE(controller_->set_cap_geocode({"MA_DVHC", "26737", "79/2"}).ok());
  }

  CapIngestResult ingest(const std::string& name) {
    auto r = controller_->ingest_cap(fixture(name));
    EXPECT_TRUE(r.ok()) << name << ": " << r.error().message;
    idle();
    return r.ok() ? *r : CapIngestResult{};
  }

  // The refusal of a fixture: its code and message.
  ApiError refusal(const std::string& name) {
    auto r = controller_->ingest_cap(fixture(name));
    EXPECT_FALSE(r.ok()) << name << " was accepted: " << (r.ok() ? r->alert.outcome : "");
    return r.ok() ? ApiError{} : r.error();
  }

  std::vector<OccurrenceRecord> occurrences() {
    auto list = controller_->list_occurrences(0);
    EXPECT_TRUE(list.ok());
    return list.ok() ? *list : std::vector<OccurrenceRecord>{};
  }
};

TEST_F(CapTest, ActualAlertSchedulesEmergencyRepeatsInTheMappedAreasUntilItExpires) {
  const auto r = ingest("storm_actual.xml");
  EXPECT_EQ(r.alert.outcome, "scheduled") << r.alert.reason;
  EXPECT_EQ(r.alert.level, "emergency");
  EXPECT_EQ(r.alert.language, "vi-VN");
  EXPECT_EQ(r.alert.event, "Bão số 9");
  EXPECT_EQ(r.alert.areas, (std::vector<std::string>{"79/1", "79/2"}));
  EXPECT_TRUE(r.alert.unmapped.empty());
  EXPECT_EQ(r.alert.repeat_every_min, 15);
  EXPECT_NE(r.alert.series_id, 0u);
  // 08:00 to 10:00 local every 15 minutes: 9 playbacks, each its own occurrence.
  ASSERT_EQ(r.alert.occurrences.size(), 9u);
  const auto list = occurrences();
  ASSERT_EQ(list.size(), 9u);
  std::set<std::uint64_t> ids;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& o = list[i];
    ids.insert(o.id);
    EXPECT_EQ(o.priority, protocol::Priority::emergency);
    EXPECT_EQ(o.start_us, at_utc("2026-11-01T01:00:00Z") + static_cast<Micros>(i) * 15 * kMinute);
    EXPECT_EQ(o.targets, (std::vector<std::string>{"area:79/1", "area:79/2"}));
    EXPECT_EQ(o.bulletin_id, r.alert.bulletin_id);
  }
  EXPECT_EQ(ids.size(), 9u);
  auto full = controller_->get_occurrence(list.front().id);
  ASSERT_TRUE(full.ok());
  std::set<std::string> nodes;
  for (const auto& n : full->nodes) nodes.insert(n.node_id);
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"}));  // n4's commune is not named
  EXPECT_EQ(plan_ids("loa/v1/plan/79/1").size(), 9u);
  EXPECT_EQ(plan_ids("loa/v1/plan/79/2").size(), 9u);
  EXPECT_TRUE(plan_ids("loa/v1/plan/79/3").empty());
  auto bulletin = controller_->get_bulletin(r.alert.bulletin_id);
  ASSERT_TRUE(bulletin.ok());
  EXPECT_EQ(bulletin->source, "tts");  // no audio resource: the Vietnamese text is spoken
  EXPECT_GT(bulletin->duration_s, 2.0);

  // The same message again: the same answer, nothing scheduled twice, nothing stored twice.
  auto again = controller_->ingest_cap(fixture("storm_actual.xml"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->alert.id, r.alert.id);
  EXPECT_EQ(again->alert.occurrences, r.alert.occurrences);
  EXPECT_EQ(occurrences().size(), 9u);
  auto stored = controller_->list_cap_alerts(100);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 1u);
}

TEST_F(CapTest, AnAlertAlreadyEffectiveStartsNowAndRepeatsUntilItExpires) {
  clock_.set(at_utc("2026-11-01T01:30:00Z"));  // 08:30 local; effective was 08:00
  const auto r = ingest("storm_actual.xml");
  ASSERT_EQ(r.alert.outcome, "scheduled") << r.alert.reason;
  const auto list = occurrences();
  ASSERT_EQ(list.size(), 6u);  // 08:30:05, 08:45:05, ... 09:45:05 (10:00:05 is past expiry)
  EXPECT_EQ(list.front().start_us, at_utc("2026-11-01T01:30:05Z"));
  EXPECT_EQ(list.back().start_us, at_utc("2026-11-01T02:45:05Z"));
}

TEST_F(CapTest, TestAndExerciseAreStoredAndAcknowledgedButNeverScheduled) {
  for (const char* name : {"storm_test.xml", "storm_exercise.xml"}) {
    const auto r = ingest(name);
    EXPECT_EQ(r.alert.outcome, "logged") << name;
    EXPECT_NE(r.alert.id, 0u);
    EXPECT_EQ(r.alert.series_id, 0u);
    EXPECT_TRUE(r.alert.occurrences.empty());
    EXPECT_EQ(r.alert.bulletin_id, 0u);
    EXPECT_TRUE(contains(r.alert.reason, "not played")) << r.alert.reason;
  }
  EXPECT_TRUE(occurrences().empty());
  auto bulletins = controller_->list_bulletins();
  ASSERT_TRUE(bulletins.ok());
  EXPECT_TRUE(bulletins->empty());
  EXPECT_TRUE(probe_.on("loa/v1/plan/#").empty());
  auto stored = controller_->list_cap_alerts(100);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[0].status, "Exercise");
  EXPECT_EQ((*stored)[1].status, "Test");
}

TEST_F(CapTest, UpdateCancelsTheEarlierAlertsFutureOccurrencesAndSchedulesItsOwn) {
  const auto first = ingest("storm_actual.xml");
  ASSERT_EQ(first.alert.occurrences.size(), 9u);
  clock_.set(at_utc("2026-11-01T01:20:00Z"));  // 08:20 local: 08:00 and 08:15 have started
  const auto update = ingest("storm_update.xml");
  ASSERT_EQ(update.alert.outcome, "scheduled") << update.alert.reason;
  EXPECT_EQ(update.alert.level, "emergency");
  // The 7 playbacks of the first alert from 08:30 on are cancelled.
  const std::vector<std::uint64_t> later(first.alert.occurrences.begin() + 2,
                                         first.alert.occurrences.end());
  EXPECT_EQ(update.cancelled, later);
  for (std::size_t i = 0; i < first.alert.occurrences.size(); ++i) {
    auto o = controller_->get_occurrence(first.alert.occurrences[i]);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->cancelled(), i >= 2) << "occurrence " << i;
  }
  // Its own: 08:30 to 11:00 every 20 minutes, in commune 79/1 only.
  ASSERT_EQ(update.alert.occurrences.size(), 8u);
  auto o = controller_->get_occurrence(update.alert.occurrences.front());
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->start_us, at_utc("2026-11-01T01:30:00Z"));
  EXPECT_EQ(o->targets, (std::vector<std::string>{"area:79/1"}));
  // Commune 79/2 keeps only the 08:15 playback (08:00 has ended and left the plan).
  EXPECT_EQ(plan_ids("loa/v1/plan/79/2"), (std::vector<std::uint64_t>{first.alert.occurrences[1]}));
  auto earlier = controller_->get_cap_alert(first.alert.id);
  ASSERT_TRUE(earlier.ok());
  EXPECT_EQ(earlier->closed_by, update.alert.id);
  auto series = controller_->get_series(first.alert.series_id);
  ASSERT_TRUE(series.ok());
  EXPECT_NE(series->cancelled_us, 0);
}

TEST_F(CapTest, CancelCancelsEveryOccurrenceOfTheReferencedAlertIncludingAPlayingOne) {
  ingest("storm_actual.xml");
  clock_.set(at_utc("2026-11-01T01:20:00Z"));
  const auto update = ingest("storm_update.xml");
  ASSERT_EQ(update.alert.occurrences.size(), 8u);
  clock_.set(at_utc("2026-11-01T01:30:02Z"));  // the 08:30 playback is under way
  const auto cancel = ingest("storm_cancel.xml");
  EXPECT_EQ(cancel.alert.outcome, "applied") << cancel.alert.reason;
  EXPECT_EQ(cancel.cancelled, update.alert.occurrences);
  for (const auto id : update.alert.occurrences) {
    auto o = controller_->get_occurrence(id);
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(o->cancelled());
  }
  for (const auto id : plan_ids("loa/v1/plan/79/1")) {
    EXPECT_EQ(std::count(update.alert.occurrences.begin(), update.alert.occurrences.end(), id), 0)
        << "occurrence " << id << " still planned";
  }
  auto closed = controller_->get_cap_alert(update.alert.id);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->closed_by, cancel.alert.id);
}

TEST_F(CapTest, PartlyMappedAlertPlaysWhereMappedAndSaysWhatWasNot) {
  const auto r = ingest("partial.xml");
  ASSERT_EQ(r.alert.outcome, "scheduled") << r.alert.reason;
  EXPECT_EQ(r.alert.areas, (std::vector<std::string>{"79/1"}));
  EXPECT_EQ(r.alert.unmapped,
            (std::vector<std::string>{"MA_DVHC=26740", "area 'Vùng biển ven bờ' (no geocode)"}));
  EXPECT_TRUE(contains(r.alert.reason, "MA_DVHC=26740")) << r.alert.reason;
  bool warned = false;
  for (const auto& w : r.warnings) warned = warned || contains(w, "MA_DVHC=26740");
  EXPECT_TRUE(warned);
  EXPECT_EQ(r.alert.occurrences.size(), 1u);  // LOA_REPEAT_MINUTES 0: once
}

TEST_F(CapTest, AudioResourceIsPlayedAsIsAtPriorityForAModerateAlert) {
  const auto r = ingest("flood_audio.xml");
  ASSERT_EQ(r.alert.outcome, "scheduled") << r.alert.reason;
  EXPECT_EQ(r.alert.level, "priority");  // Moderate / Future
  auto bulletin = controller_->get_bulletin(r.alert.bulletin_id);
  ASSERT_TRUE(bulletin.ok());
  EXPECT_EQ(bulletin->source, "audio");
  EXPECT_NEAR(bulletin->duration_s, 1.0, 0.05);
  ASSERT_EQ(r.alert.occurrences.size(), 1u);
  auto o = controller_->get_occurrence(r.alert.occurrences.front());
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->priority, protocol::Priority::priority);
}

TEST_F(CapTest, RefusalsNameTheElementAndAreStoredWithTheReason) {
  struct Case {
    const char* file;
    ErrorCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"malformed.xml", ErrorCode::bad_request, "malformed XML at line"},
      {"doctype.xml", ErrorCode::bad_request, "DOCTYPE is not allowed"},
      {"wrong_namespace.xml", ErrorCode::bad_request,
       "alert: namespace 'urn:oasis:names:tc:emergency:cap:1.1' is not CAP 1.2"},
      {"missing_sender.xml", ErrorCode::bad_request, "alert/sender: missing"},
      {"bad_urgency.xml", ErrorCode::bad_request,
       "alert/info[1]/urgency: 'Soon' is not one of Immediate, Expected"},
      {"draft.xml", ErrorCode::unprocessable, "alert/status: Draft messages are not acted on"},
      {"unmapped_geocode.xml", ErrorCode::unprocessable,
       "no area mapped for geocode MA_DVHC=32014"},
      {"polygon_only.xml", ErrorCode::unprocessable, "polygon or circle is not mapped"},
      {"cancel_unknown.xml", ErrorCode::unprocessable,
       "alert/references: no alert canhbao@phongchongthientai.gov.vn,VN-PCTT-2026-0999,"},
  };
  for (const auto& c : cases) {
    const ApiError e = refusal(c.file);
    EXPECT_EQ(e.code, c.code) << c.file << ": " << e.message;
    EXPECT_TRUE(contains(e.message, c.message)) << c.file << ": " << e.message;
  }
  EXPECT_TRUE(occurrences().empty());
  auto stored = controller_->list_cap_alerts(100);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& rec = (*stored)[cases.size() - 1 - i];  // newest first
    EXPECT_EQ(rec.outcome, "refused");
    EXPECT_TRUE(contains(rec.reason, cases[i].message)) << rec.reason;
  }
  auto full = controller_->get_cap_alert((*stored)[0].id);
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(contains(full->xml, "VN-PCTT-2026-0999"));  // the message as received
}

TEST_F(CapTest, AnExpiredAlertAndAnUnknownRepeatAreRefused) {
  clock_.set(at_utc("2026-11-01T03:00:00Z"));  // 10:00 local: storm_actual has expired
  auto expired = controller_->ingest_cap(fixture("storm_actual.xml"));
  ASSERT_FALSE(expired.ok());
  EXPECT_TRUE(contains(expired.error().message, "alert/info[2]/expires: "))
      << expired.error().message;
  std::string xml = fixture("partial.xml");
  xml.replace(xml.find("<value>0</value>"), 16, "<value>often</value>");
  clock_.set(at_utc("2026-11-01T00:00:00Z"));
  auto bad_repeat = controller_->ingest_cap(xml);
  ASSERT_FALSE(bad_repeat.ok());
  EXPECT_TRUE(contains(bad_repeat.error().message,
                       "parameter LOA_REPEAT_MINUTES: 'often' is not a number of minutes"))
      << bad_repeat.error().message;
}

// An alert is outside input: how many geocodes it names is bounded, and whatever it does not
// map is listed briefly in the refusal and in the stored reason, however many there are.
TEST_F(CapTest, GeocodesAreBoundedAndTheUnmappedListedBriefly) {
  // `n` unmapped geocodes before the mapped one in partial.xml's first area.
  auto with_unmapped = [](std::size_t n) {
    std::string codes;
    for (std::size_t i = 0; i < n; ++i) {
      codes += "<geocode><valueName>MA_DVHC</valueName><value>9" + std::to_string(i) +
               "</value></geocode>";
    }
    std::string xml = fixture("partial.xml");
    xml.insert(xml.find("<geocode>"), codes);
    xml.insert(xml.find("</identifier>"), "-" + std::to_string(n));  // a new message each
    return xml;
  };
  auto too_many = controller_->ingest_cap(with_unmapped(1000));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::unprocessable);
  EXPECT_TRUE(contains(too_many.error().message,
                       "alert/info[1]/area: 1003 geocodes; at most 1000 are taken"))
      << too_many.error().message.substr(0, 300);

  auto r = controller_->ingest_cap(with_unmapped(40));
  ASSERT_TRUE(r.ok()) << r.error().message.substr(0, 300);
  EXPECT_EQ(r->alert.outcome, "scheduled");
  EXPECT_EQ(r->alert.unmapped.size(), 42u);
  EXPECT_TRUE(contains(r->alert.reason, "MA_DVHC=90; MA_DVHC=91")) << r->alert.reason;
  EXPECT_TRUE(contains(r->alert.reason, " ... and 32 more")) << r->alert.reason;
  EXPECT_LT(r->alert.reason.size(), 1000u);
}

// The first playback is at most a year ahead: an alert effective later is refused, naming the
// element, instead of planning (or failing to plan) a bulletin years from now.
TEST_F(CapTest, AnAlertEffectiveMoreThanAYearAheadIsRefused) {
  std::string xml = fixture("storm_actual.xml");
  for (const char* t : {"2026-11-01T08:00:00+07:00", "2026-11-01T10:00:00+07:00"}) {
    std::string later = t;
    later.replace(0, 4, "2028");
    xml.replace(xml.find(t), later.size(), later);
  }
  auto r = controller_->ingest_cap(xml);
  ASSERT_FALSE(r.ok()) << r->alert.outcome;
  EXPECT_EQ(r.error().code, ErrorCode::unprocessable);
  EXPECT_TRUE(contains(r.error().message,
                       "alert/info[2]/effective: 2028-11-01T01:00:00Z is more than 366 days ahead"))
      << r.error().message;
  EXPECT_TRUE(occurrences().empty());
}

TEST_F(CapTest, GeocodeTableSetReplaceListRemove) {
  auto replaced = controller_->set_cap_geocode({"MA_DVHC", "26737", "79/3"});
  ASSERT_TRUE(replaced.ok());
  auto list = controller_->list_cap_geocodes();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].area, "79/3");
  auto bad_area = controller_->set_cap_geocode({"MA_DVHC", "1", "79//x"});
  ASSERT_FALSE(bad_area.ok());
  EXPECT_EQ(bad_area.error().code, ErrorCode::bad_request);
  EXPECT_TRUE(contains(bad_area.error().message, "area: ")) << bad_area.error().message;
  ASSERT_TRUE(controller_->remove_cap_geocode("MA_DVHC", "26737").ok());
  auto gone = controller_->remove_cap_geocode("MA_DVHC", "26737");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::not_found);
  EXPECT_EQ(gone.error().message, "geocode MA_DVHC=26737 is not mapped");
}

TEST_F(CapTest, HttpEndpoints) {
  ApiServer server(*controller_, 16 * 1024 * 1024);
  auto port = server.bind("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.error().message;
  server.start();
  httplib::Client client("127.0.0.1", *port);
  auto set =
      client.Post("/api/v1/cap/geocodes",
                  R"({"value_name":"MA_DVHC","value":"32014","area":"79/3"})", "application/json");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200) << set->body;
  auto post = client.Post("/api/v1/cap", fixture("unmapped_geocode.xml"), "application/xml");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 201) << post->body;
  auto j = nlohmann::json::parse(post->body);
  EXPECT_EQ(j["outcome"], "scheduled");
  EXPECT_EQ(j["areas"], nlohmann::json::array({"79/3"}));
  auto draft = client.Post("/api/v1/cap", fixture("draft.xml"), "application/xml");
  ASSERT_TRUE(draft);
  EXPECT_EQ(draft->status, 422);
  EXPECT_TRUE(contains(draft->body, "Draft")) << draft->body;
  auto test = client.Post("/api/v1/cap", fixture("storm_test.xml"), "application/xml");
  ASSERT_TRUE(test);
  EXPECT_EQ(test->status, 200) << test->body;
  auto list = client.Get("/api/v1/cap");
  ASSERT_TRUE(list);
  auto alerts = nlohmann::json::parse(list->body)["alerts"];
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0]["outcome"], "logged");
  EXPECT_EQ(alerts[1]["outcome"], "refused");
  auto codes = client.Get("/api/v1/cap/geocodes");
  ASSERT_TRUE(codes);
  EXPECT_EQ(nlohmann::json::parse(codes->body)["geocodes"].size(), 3u);
  auto del = client.Delete("/api/v1/cap/geocodes/MA_DVHC/32014");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200) << del->body;
  server.stop();
}

}  // namespace
