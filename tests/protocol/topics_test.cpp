#include "loa/protocol/topics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace loa::protocol::topics {
namespace {

using ::testing::HasSubstr;

AreaPath area(std::string_view text) {
  auto a = AreaPath::parse(text);
  EXPECT_TRUE(a.ok());
  return a.value();
}

Parsed parsed(const std::string& topic) {
  auto p = parse(topic);
  EXPECT_TRUE(p.ok()) << topic << ": " << p.error().message;
  return p.ok() ? p.value() : Parsed{};
}

std::string error_of(std::string_view topic) {
  auto p = parse(topic);
  return p.ok() ? std::string("(parsed)") : p.error().message;
}

TEST(Topics, Builders) {
  EXPECT_EQ(area_plan(area("79/26734")), "loa/v1/plan/79/26734");
  EXPECT_EQ(area_control(area("79")), "loa/v1/control/79");
  EXPECT_EQ(node_plan("n1"), "loa/v1/node/n1/down/plan");
  EXPECT_EQ(node_control("n1"), "loa/v1/node/n1/down/control");
  EXPECT_EQ(node_receipt("n1"), "loa/v1/node/n1/down/receipt");
  EXPECT_EQ(node_down_filter("n1"), "loa/v1/node/n1/down/#");
  EXPECT_EQ(bulletin_manifest(42), "loa/v1/bulletin/42/manifest");
  EXPECT_EQ(bulletin_chunks(42), "loa/v1/bulletin/42/chunk");
  EXPECT_EQ(bulletin_filter(42), "loa/v1/bulletin/42/#");
  EXPECT_EQ(live_stream(7), "loa/v1/live/7");
  EXPECT_EQ(node_up("n1", UpKind::hello), "loa/v1/node/n1/up/hello");
  EXPECT_EQ(node_up("n1", UpKind::event), "loa/v1/node/n1/up/event");
  EXPECT_EQ(node_up("n1", UpKind::status), "loa/v1/node/n1/up/status");
  EXPECT_EQ(node_up("n1", UpKind::fetch), "loa/v1/node/n1/up/fetch");
  EXPECT_EQ(node_up("n1", UpKind::report), "loa/v1/node/n1/up/report");
  EXPECT_EQ(all_up_filter(), "loa/v1/node/+/up/#");
}

TEST(Topics, EveryKindRoundTrips) {
  const AreaPath a = area("79/26734/03");
  auto p = parsed(area_plan(a));
  EXPECT_EQ(p.kind, Parsed::Kind::area_plan);
  EXPECT_EQ(p.area, a);
  p = parsed(area_control(a));
  EXPECT_EQ(p.kind, Parsed::Kind::area_control);
  EXPECT_EQ(p.area, a);
  p = parsed(node_plan("hcm-q1-007"));
  EXPECT_EQ(p.kind, Parsed::Kind::node_plan);
  EXPECT_EQ(p.node, "hcm-q1-007");
  p = parsed(node_control("n"));
  EXPECT_EQ(p.kind, Parsed::Kind::node_control);
  EXPECT_EQ(p.node, "n");
  p = parsed(node_receipt("n"));
  EXPECT_EQ(p.kind, Parsed::Kind::node_receipt);
  p = parsed(bulletin_manifest(UINT64_MAX));
  EXPECT_EQ(p.kind, Parsed::Kind::bulletin_manifest);
  EXPECT_EQ(p.id, UINT64_MAX);
  p = parsed(bulletin_chunks(0));
  EXPECT_EQ(p.kind, Parsed::Kind::bulletin_chunk);
  EXPECT_EQ(p.id, 0u);
  p = parsed(live_stream(123));
  EXPECT_EQ(p.kind, Parsed::Kind::live);
  EXPECT_EQ(p.id, 123u);
  for (const auto kind :
       {UpKind::hello, UpKind::event, UpKind::status, UpKind::fetch, UpKind::report}) {
    p = parsed(node_up("n-2", kind));
    EXPECT_EQ(p.kind, Parsed::Kind::node_up);
    EXPECT_EQ(p.node, "n-2");
    EXPECT_EQ(p.up, kind);
  }
}

TEST(Topics, ErrorsNameTheTopic) {
  EXPECT_EQ(error_of("loa/v2/plan/79"), "topic 'loa/v2/plan/79': not under loa/v1/");
  EXPECT_EQ(error_of("loa/v1/plan/79//3"),
            "topic 'loa/v1/plan/79//3': area path '79//3': segment 2 is empty");
  EXPECT_THAT(error_of("loa/v1/plan"), HasSubstr("missing area path"));
  EXPECT_THAT(error_of("loa/v1/plan/"), HasSubstr("area path '': is empty"));
  EXPECT_THAT(error_of("loa/v1/weather/79"), HasSubstr("unknown topic kind 'weather'"));
  EXPECT_THAT(error_of("loa/v1/node/n1/down/audio"), HasSubstr("unknown down topic 'audio'"));
  EXPECT_THAT(error_of("loa/v1/node/n1/up/ack"), HasSubstr("unknown up topic 'ack'"));
  EXPECT_THAT(error_of("loa/v1/node/n1/side/plan"), HasSubstr("expected 'down' or 'up'"));
  EXPECT_THAT(error_of("loa/v1/node/n1/down"), HasSubstr("expected node/<id>/down"));
  EXPECT_THAT(error_of("loa/v1/node/n 1/down/plan"), HasSubstr("node id 'n 1'"));
  EXPECT_THAT(error_of("loa/v1/node/+/up/#"), HasSubstr("node id '+'"));
  EXPECT_THAT(error_of("loa/v1/bulletin/042/chunk"),
              HasSubstr("bulletin id '042' is not a decimal 64-bit number"));
  EXPECT_THAT(error_of("loa/v1/bulletin/18446744073709551616/chunk"),
              HasSubstr("not a decimal 64-bit number"));
  EXPECT_THAT(error_of("loa/v1/bulletin/-1/chunk"), HasSubstr("not a decimal"));
  EXPECT_THAT(error_of("loa/v1/bulletin/4/#"), HasSubstr("unknown bulletin topic '#'"));
  EXPECT_THAT(error_of("loa/v1/bulletin/4"), HasSubstr("expected bulletin/<id>/manifest"));
  EXPECT_THAT(error_of("loa/v1/live/7/x"), HasSubstr("expected live/<stream id>"));
  EXPECT_THAT(error_of("loa/v1/live/x"), HasSubstr("stream id 'x'"));
  EXPECT_THAT(error_of("loa/v1/live/"), HasSubstr("stream id ''"));
  EXPECT_THAT(error_of(std::string("loa/v1/x\n")), HasSubstr("topic 'loa/v1/x?'"));
  EXPECT_THAT(error_of(""), HasSubstr("not under"));
}

TEST(Topics, UpKindNames) {
  EXPECT_STREQ(to_string(UpKind::report), "report");
  EXPECT_STREQ(to_string(UpKind::hello), "hello");
}

}  // namespace
}  // namespace loa::protocol::topics
