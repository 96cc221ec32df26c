#include "deployment_test.hpp"

#include "loa/protocol/ogg_opus.hpp"

namespace loa::test {

using nlohmann::json;

std::int64_t DeploymentTest::make_tts_bulletin(const std::string& sample) {
  auto r = d_->loactl({"bulletin", "create", "--title", sample, "--text",
                       std::string(LOA_SOURCE_DIR) + "/samples/" + sample, "--voice", "vi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return field(r.json, "id");
}

std::pair<std::int64_t, protocol::Micros> DeploymentTest::schedule(
    std::int64_t bulletin, std::chrono::milliseconds ahead, const std::vector<std::string>& extra) {
  protocol::Micros at = 0;
  const std::string wall = utc_wall_time(now_us() + ahead.count() * 1000, &at);
  std::vector<std::string> args = {"schedule", "--bulletin", std::to_string(bulletin), "--at", wall,
                                   "--tz",     "UTC"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = d_->loactl(args);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  return {field(r.json, "id"), at};
}

json DeploymentTest::coverage(std::int64_t occurrence) {
  auto r = d_->loactl({"report", "coverage", "--occurrence", std::to_string(occurrence)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.json;
}

std::map<std::string, json> DeploymentTest::events_of(std::int64_t occurrence) {
  auto r = d_->loactl({"log", "--occurrence", std::to_string(occurrence)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, json> out;
  const json& rows = r.json.is_array() ? r.json : r.json["events"];
  for (const auto& row : rows) out[row.at("node").get<std::string>()] = row;
  return out;
}

std::vector<std::int16_t> DeploymentTest::expected_pcm(std::int64_t bulletin) {
  const std::string ogg = d_->http_get("/api/v1/bulletins/" + std::to_string(bulletin) + "/audio");
  auto stream = protocol::read_ogg_opus(
      protocol::ByteView(reinterpret_cast<const std::uint8_t*>(ogg.data()), ogg.size()));
  EXPECT_TRUE(stream.ok()) << stream.error().message;
  if (!stream) return {};
  auto pcm = protocol::decode_stream(*stream);
  EXPECT_TRUE(pcm.ok());
  return pcm ? std::move(pcm).value() : std::vector<std::int16_t>{};
}

}  // namespace loa::test
