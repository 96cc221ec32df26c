// CAP alerts end to end (issue 5): loactl cap ingest against the real controller, a real
// Mosquitto and real nodes. An Actual alert is spoken (Vietnamese TTS) on every node of the commune
// its geocode maps to; a Test alert with the same content is only logged.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "deployment_test.hpp"

using namespace loa;
using loa::test::eventually;
using loa::test::field;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

class CapEndToEnd : public test::DeploymentTest {
 protected:
  // A CAP file in the deployment's directory: a storm warning for commune 26734, effective now,
  // expiring in 10 minutes, played once.
  std::string write_alert(const std::string& identifier, const std::string& status) {
    protocol::Micros rounded = 0;
    const protocol::Micros now = test::now_us();
    const std::string sent = test::utc_wall_time(now, &rounded) + "+00:00";
    const std::string expires = test::utc_wall_time(now + 600'000'000, &rounded) + "+00:00";
    const std::string path = d_->dir() / (identifier + ".xml");
    std::ofstream f(path);
    f << R"(<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>)"
      << identifier << R"(</identifier>
  <sender>canhbao@phongchongthientai.gov.vn</sender>
  <sent>)"
      << sent << R"(</sent>
  <status>)"
      << status << R"(</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Bão số 9</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>)"
      << expires << R"(</expires>
    <headline>Cảnh báo bão khẩn cấp</headline>
    <instruction>Người dân vào nơi trú ẩn an toàn.</instruction>
    <parameter><valueName>LOA_REPEAT_MINUTES</valueName><value>0</value></parameter>
    <area>
      <areaDesc>Xã Tân Phú</areaDesc>
      <geocode><valueName>MA_DVHC</valueName><value>26734</value></geocode>
    </area>
  </info>
</alert>
)";
    return path;
  }
};

TEST_F(CapEndToEnd, AnActualAlertSoundsOnEveryNodeOfItsCommuneATestAlertIsOnlyLogged) {
  d_->add_node({"n1", "79/26734/01", 2, 700});
  d_->add_node({"n2", "79/26734/02", 2, 700});
  d_->add_node({"n3", "79/26737/01", 2, 700});  // another commune: not alerted
  auto mapped = d_->loactl({"cap", "geocode", "set", "MA_DVHC", "26734", "79/26734"});
  ASSERT_EQ(mapped.exit_code, 0) << mapped.err;

  auto logged = d_->loactl({"cap", "ingest", write_alert("VN-E2E-T1", "Test")});
  ASSERT_EQ(logged.exit_code, 0) << logged.err;
  EXPECT_EQ(logged.json.value("outcome", ""), "logged") << logged.json.dump(2);
  EXPECT_TRUE(logged.json["occurrences"].empty());

  auto r = d_->loactl({"cap", "ingest", write_alert("VN-E2E-A1", "Actual")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.json.value("outcome", ""), "scheduled") << r.json.dump(2);
  EXPECT_EQ(r.json.value("level", ""), "emergency");
  ASSERT_EQ(r.json["occurrences"].size(), 1u) << r.json.dump(2);
  const std::int64_t occ = r.json["occurrences"][0].get<std::int64_t>();

  ASSERT_TRUE(eventually([&] { return field(coverage(occ), "completed") == 2; }, 60s))
      << coverage(occ).dump(2);
  const auto events = events_of(occ);
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(events.count("n3"), 0u);
  const auto expected = expected_pcm(field(r.json, "bulletin"));
  ASSERT_FALSE(expected.empty());
  for (const char* id : {"n1", "n2"}) {
    ASSERT_TRUE(events.count(id)) << id;
    EXPECT_EQ(events.at(id)["outcome"], "completed") << events.at(id).dump();
    EXPECT_TRUE(test::read_wav_pcm16(wav_of(id, occ)) == expected) << id << ": samples differ";
  }

  // Every message is listed, the Test one too.
  auto list = d_->loactl({"cap", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.json["alerts"].size(), 2u);
}

}  // namespace
