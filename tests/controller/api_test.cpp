#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loa/controller/api_server.hpp"
#include "loa/controller/cli.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/controller/local_time.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using nlohmann::json;

namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("loa-api-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = open_sqlite_store(":memory:");
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    bus_ = hub_.connect("controller");
    ControllerSettings settings;
    settings.audio_dir = (dir_ / "audio").string();
    settings.trust_first_key = true;
    controller_ = std::make_unique<Controller>(*store_, *bus_, clock_,
                                               protocol::KeyPair::generate(), settings);
    ASSERT_TRUE(controller_->attach().ok());
    ASSERT_TRUE(bus_->start().ok());
    server_ = std::make_unique<ApiServer>(*controller_, 16 * 1024 * 1024);
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    server_->start();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
  }

  void TearDown() override {
    server_->stop();
    bus_->stop(0);
    server_.reset();
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  struct Cli {
    int code;
    std::string out;
    std::string err;
  };
  Cli loactl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--controller", url_});
    std::ostringstream out;
    std::ostringstream err;
    const int code = run_loactl(args, out, err);
    return {code, out.str(), err.str()};
  }

  // Checks the error shape and returns the message.
  std::string error_of(const httplib::Result& r, int status, const std::string& code) {
    EXPECT_TRUE(r) << "no answer";
    if (!r) return {};
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    const json j = json::parse(r->body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r->body;
    if (j.is_discarded() || !j.contains("error")) return {};
    EXPECT_EQ(j["error"]["code"], code) << r->body;
    return j["error"]["message"].get<std::string>();
  }

  std::filesystem::path dir_;
  runtime::MemoryHub hub_;
  runtime::ManualClock clock_{*parse_utc("2026-11-01T00:00:00Z")};
  std::unique_ptr<Store> store_;
  std::unique_ptr<runtime::Bus> bus_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
  std::string url_;
};

TEST_F(ApiTest, ErrorsAreJsonWithACodeAndAMessage) {
  httplib::Client c("127.0.0.1", port_);
  auto msg = error_of(c.Get("/api/v1/bulletins/999"), 404, "not_found");
  EXPECT_NE(msg.find("999"), std::string::npos) << msg;
  msg = error_of(c.Get("/api/v1/bulletins/abc"), 400, "bad_request");
  EXPECT_NE(msg.find("abc"), std::string::npos) << msg;
  error_of(c.Post("/api/v1/nodes", "{not json", "application/json"), 400, "bad_request");
  msg =
      error_of(c.Post("/api/v1/nodes", R"({"id": "n1"})", "application/json"), 400, "bad_request");
  EXPECT_NE(msg.find("area"), std::string::npos) << msg;
  msg = error_of(c.Get("/api/v1/nothing-here"), 404, "not_found");
  EXPECT_NE(msg.find("/api/v1/nothing-here"), std::string::npos) << msg;
  msg = error_of(c.Get("/api/v1/coverage"), 400, "bad_request");
  msg = error_of(c.Post("/api/v1/bulletins?title=x", "not audio", "application/octet-stream"), 422,
                 "unprocessable");
  EXPECT_FALSE(msg.empty());

  ASSERT_TRUE(c.Post("/api/v1/nodes", R"({"id": "n1", "area": "79/1", "residents": 5})",
                     "application/json"));
  msg = error_of(c.Post("/api/v1/nodes", R"({"id": "n1", "area": "79/1"})", "application/json"),
                 409, "conflict");
  EXPECT_NE(msg.find("n1"), std::string::npos);
  const auto wav = test::tone_wav(1.0);
  auto created = c.Post("/api/v1/bulletins?title=Tone", std::string(wav.begin(), wav.end()),
                        "application/octet-stream");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const auto bulletin = json::parse(created->body)["id"].get<std::uint64_t>();
  msg = error_of(
      c.Post(
          "/api/v1/occurrences",
          json{{"bulletin", bulletin}, {"at", "2026-10-01T06:30"}, {"targets", {"node:n1"}}}.dump(),
          "application/json"),
      422, "unprocessable");
  EXPECT_NE(msg.find("past"), std::string::npos) << msg;
  msg = error_of(
      c.Post("/api/v1/occurrences",
             json{{"bulletin", bulletin}, {"at", "2026-12-01T06:30"}, {"targets", "x"}}.dump(),
             "application/json"),
      400, "bad_request");
  EXPECT_NE(msg.find("targets"), std::string::npos) << msg;
}

TEST_F(ApiTest, NodesBulletinsAndSchedulesOverHttp) {
  httplib::Client c("127.0.0.1", port_);
  auto added = c.Post("/api/v1/nodes",
                      R"({"id": "n1", "area": "79/26734/01", "speakers": 4, "residents": 1200,
                          "name": "Cụm loa chợ"})",
                      "application/json");
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 201) << added->body;
  auto list = c.Get("/api/v1/nodes");
  ASSERT_TRUE(list);
  const json nodes = json::parse(list->body)["nodes"];
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["name"], "Cụm loa chợ");
  EXPECT_EQ(nodes[0]["online"], false);
  EXPECT_TRUE(nodes[0]["last_seen"].is_null());

  const auto wav = test::tone_wav(1.5);
  auto created = c.Post("/api/v1/bulletins?title=Th%C3%B4ng%20b%C3%A1o",
                        std::string(wav.begin(), wav.end()), "application/octet-stream");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const json b = json::parse(created->body);
  EXPECT_EQ(b["title"], "Thông báo");
  auto audio = c.Get("/api/v1/bulletins/" + std::to_string(b["id"].get<int>()) + "/audio");
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 200);
  EXPECT_EQ(audio->get_header_value("Content-Type"), "audio/ogg");
  EXPECT_EQ(audio->body.substr(0, 4), "OggS");

  auto occ = c.Post("/api/v1/occurrences",
                    json{{"bulletin", b["id"]},
                         {"at", "2026-12-01T06:30"},
                         {"targets", {"area:79/26734"}},
                         {"priority", "emergency"},
                         {"volume", 80}}
                        .dump(),
                    "application/json");
  ASSERT_TRUE(occ);
  ASSERT_EQ(occ->status, 201) << occ->body;
  const json o = json::parse(occ->body);
  EXPECT_EQ(o["start"], "2026-11-30T23:30:00Z");
  EXPECT_EQ(o["start_local"], "2026-12-01T06:30:00+07:00");
  EXPECT_EQ(o["priority"], "emergency");
  EXPECT_EQ(o["volume"], 80);
  EXPECT_EQ(o["residents_targeted"], 1200);
  auto got = c.Get("/api/v1/occurrences/" + std::to_string(o["id"].get<int>()));
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->body)["id"], o["id"]);
  auto cov =
      c.Get("/api/v1/coverage?occurrence=" + std::to_string(o["id"].get<int>()) + "&by=area");
  ASSERT_TRUE(cov);
  ASSERT_EQ(cov->status, 200) << cov->body;
  const json r = json::parse(cov->body);
  EXPECT_EQ(r["targeted"], 1);
  EXPECT_EQ(r["pending"], 1);
  ASSERT_EQ(r["rows"].size(), 1u);
  EXPECT_EQ(r["rows"][0]["area"], "79/26734/01");
}

TEST_F(ApiTest, LoactlCommandsPrintResultsAndFailWithOneLine) {
  auto help = loactl({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* cmd : {"node add", "node import", "node list", "bulletin create",
                          "bulletin list", "schedule", "report coverage", "log"}) {
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd;
  }

  auto add = loactl({"node", "add", "--id", "n1", "--area", "79/26734/01", "--speakers", "4",
                     "--residents", "1200", "--name", "Cụm 1"});
  ASSERT_EQ(add.code, 0) << add.err;
  const auto csv = dir_ / "nodes.csv";
  std::ofstream(csv) << "id,area,speakers,residents,name\n"
                        "n2,79/26734/02,2,800,\"Chợ, phường 2\"\n"
                        "n3,79/26737/01,3,500,Cụm 3\n";
  auto import = loactl({"node", "import", csv.string()});
  ASSERT_EQ(import.code, 0) << import.err;
  auto list = loactl({"--format", "csv", "node", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("id,name,area,speakers,residents,online,last_seen"), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("n2,\"Chợ, phường 2\",79/26734/02,2,800"), std::string::npos) << list.out;
  auto table = loactl({"node", "list"});
  EXPECT_NE(table.out.find("LAST SEEN"), std::string::npos);

  const auto wav_path = dir_ / "tone.wav";
  const auto wav = test::tone_wav(1.0);
  std::ofstream(wav_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(wav.data()), static_cast<std::streamsize>(wav.size()));
  auto created = loactl({"bulletin", "create", "--title", "Tone", "--audio", wav_path.string()});
  ASSERT_EQ(created.code, 0) << created.err;
  const std::string bulletin = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(bulletin, "1");

  auto scheduled =
      loactl({"schedule", "--bulletin", bulletin, "--at", "2026-12-01T06:30", "--target",
              "area:79/26734", "--target", "node:n3", "--priority", "priority"});
  ASSERT_EQ(scheduled.code, 0) << scheduled.err;
  EXPECT_EQ(scheduled.out, "1\n");

  auto cov =
      loactl({"--format", "json", "report", "coverage", "--bulletin", bulletin, "--by", "area"});
  ASSERT_EQ(cov.code, 0) << cov.err;
  const json j = json::parse(cov.out);
  EXPECT_EQ(j["targeted"], 3);
  EXPECT_EQ(j["residents_targeted"], 2500);
  EXPECT_EQ(j["rows"].size(), 3u);
  auto cov_table = loactl({"report", "coverage", "--occurrence", "1", "--by", "area"});
  ASSERT_EQ(cov_table.code, 0) << cov_table.err;
  EXPECT_NE(cov_table.out.find("total"), std::string::npos);
  auto log = loactl({"log", "--area", "79/26734", "--since", "2026-01-01"});
  EXPECT_EQ(log.code, 0) << log.err;

  // Refusals: exit non-zero with one line on stderr naming the problem.
  auto unknown = loactl(
      {"schedule", "--bulletin", bulletin, "--at", "2026-12-01T06:30", "--target", "node:nobody"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;
  EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1);
  EXPECT_TRUE(unknown.out.empty());
  auto usage = loactl({"schedule", "--bulletin", bulletin});
  EXPECT_EQ(usage.code, 2);
  EXPECT_NE(usage.err.find("--at"), std::string::npos) << usage.err;
  EXPECT_EQ(loactl({"frobnicate"}).code, 2);
  EXPECT_EQ(loactl({"node", "list", "--format", "xml"}).code, 2);
  EXPECT_EQ(loactl({"node", "list", "--colour", "red"}).code, 2);
  auto missing = loactl({"bulletin", "create", "--title", "x", "--audio", "/no/such/file.wav"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/no/such/file.wav"), std::string::npos);

  std::ostringstream out;
  std::ostringstream err;
  const int code = run_loactl(
      {"--controller", "http://127.0.0.1:" + std::to_string(port_ == 1 ? 2 : 1), "node", "list"},
      out, err);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.str().find("cannot reach"), std::string::npos) << err.str();
}

TEST_F(ApiTest, LoactlSchedulingCommandsCancelChangeSeriesDryRunApprovalGroups) {
  for (const auto& [id, area] :
       std::vector<std::pair<std::string, std::string>>{{"a1", "79/10/01"}, {"a2", "79/20/01"}}) {
    auto add = loactl({"node", "add", "--id", id, "--area", area});
    ASSERT_EQ(add.code, 0) << add.err;
  }
  const auto wav_path = dir_ / "tone.wav";
  const auto wav = test::tone_wav(1.0);
  std::ofstream(wav_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(wav.data()), static_cast<std::streamsize>(wav.size()));
  auto created = loactl({"bulletin", "create", "--title", "Tone", "--audio", wav_path.string()});
  ASSERT_EQ(created.code, 0) << created.err;
  const std::string b = created.out.substr(0, created.out.find('\n'));

  // Dry run: a timeline, nothing stored.
  auto dry = loactl({"schedule", "--bulletin", b, "--at", "2026-11-01T08:00", "--target", "area:79",
                     "--dry-run", "--days", "2"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("FATE"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("no conflicts"), std::string::npos) << dry.out;
  auto none = controller_->list_occurrences(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // A series, then cancel it.
  auto series = loactl({"--format", "json", "schedule", "--bulletin", b, "--at", "2026-11-01T06:30",
                        "--target", "area:79", "--rrule", "FREQ=DAILY"});
  ASSERT_EQ(series.code, 0) << series.err;
  const json sj = json::parse(series.out);
  EXPECT_EQ(sj["occurrences"].size(), 8u);
  const std::string sid = std::to_string(sj["series"]["id"].get<std::uint64_t>());
  auto bad_rule = loactl({"schedule", "--bulletin", b, "--at", "2026-11-01T06:30", "--target",
                          "area:79", "--rrule", "FREQ=YEARLY"});
  EXPECT_EQ(bad_rule.code, 1);
  EXPECT_NE(bad_rule.err.find("rrule: "), std::string::npos) << bad_rule.err;
  auto cancel_series = loactl({"cancel", "--series", sid});
  ASSERT_EQ(cancel_series.code, 0) << cancel_series.err;

  // One occurrence: change it, cancel it, and the refusals.
  auto one = loactl({"schedule", "--bulletin", b, "--at", "2026-11-01T08:00", "--target", "node:a1",
                     "--exclude", "node:a2"});
  ASSERT_EQ(one.code, 0) << one.err;
  const std::string occ = one.out.substr(0, one.out.find('\n'));
  auto changed = loactl({"--format", "json", "occurrence", "change", occ, "--at",
                         "2026-11-01T08:30", "--target", "area:79/20"});
  ASSERT_EQ(changed.code, 0) << changed.err;
  const json cj = json::parse(changed.out);
  EXPECT_EQ(std::to_string(cj["id"].get<std::uint64_t>()), occ);
  EXPECT_EQ(cj["start"], "2026-11-01T01:30:00Z");
  EXPECT_EQ(cj["nodes"][0]["id"], "a2");
  auto typo = httplib::Client(url_).Patch("/api/v1/occurrences/" + occ, R"({"att": "x"})",
                                          "application/json");
  EXPECT_NE(error_of(typo, 400, "bad_request").find("att"), std::string::npos);
  auto cancelled = loactl({"cancel", occ});
  ASSERT_EQ(cancelled.code, 0) << cancelled.err;
  EXPECT_NE(cancelled.out.find("cancelled"), std::string::npos) << cancelled.out;
  auto again = loactl({"cancel", occ});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("already cancelled"), std::string::npos) << again.err;
  auto unknown = loactl({"cancel", "999"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("not_found"), std::string::npos) << unknown.err;

  // Approval and groups.
  ASSERT_EQ(loactl({"area", "set", "79/10", "--approval", "required"}).code, 0);
  auto pushed =
      loactl({"schedule", "--bulletin", b, "--at", "2026-11-01T09:00", "--target", "area:79"});
  ASSERT_EQ(pushed.code, 0) << pushed.err;
  const std::string p = pushed.out.substr(0, pushed.out.find('\n'));
  auto pending = loactl({"--format", "csv", "approval", "list"});
  ASSERT_EQ(pending.code, 0) << pending.err;
  EXPECT_NE(pending.out.find(p + ",79/10,"), std::string::npos) << pending.out;
  auto approve = loactl({"approval", "approve", p, "--area", "79/10"});
  ASSERT_EQ(approve.code, 0) << approve.err;
  auto group = loactl({"group", "add", "markets", "a1", "a2"});
  ASSERT_EQ(group.code, 0) << group.err;
  auto groups = loactl({"--format", "csv", "group", "list"});
  EXPECT_NE(groups.out.find("markets,a2"), std::string::npos) << groups.out;
  auto no_group =
      loactl({"schedule", "--bulletin", b, "--at", "2026-11-01T09:00", "--target", "group:fairs"});
  EXPECT_EQ(no_group.code, 1);
  EXPECT_NE(no_group.err.find("unknown group 'fairs'"), std::string::npos) << no_group.err;
}

}  // namespace

// The scheduling routes' bodies are bounded field by field: the number and length of targets,
// the length of any string, and numbers to the signed 64-bit range; each error names the field.
TEST(ApiRequests, BodiesAreBoundedFieldByField) {
  const json ok = {{"bulletin", 1}, {"at", "2026-12-01T06:30"}, {"targets", {"area:79"}}};
  ASSERT_TRUE(schedule_request_from_json(ok).ok());

  auto message = [](const Reply<ScheduleRequest>& r) {
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.error().message;
  };
  json many = ok;
  many["targets"] = json(std::vector<std::string>(1001, "area:79"));
  EXPECT_EQ(message(schedule_request_from_json(many)), "targets: 1001 targets; at most 1000");
  many["targets"] = json(std::vector<std::string>(1000, "area:79"));
  EXPECT_TRUE(schedule_request_from_json(many).ok());

  json long_target = ok;
  long_target["targets"] = {"area:79", "area:" + std::string(200, '7')};
  EXPECT_EQ(message(schedule_request_from_json(long_target)),
            "targets[1]: 205 bytes; a target has at most 140");
  auto change = change_request_from_json(json{{"targets", long_target["targets"]}});
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.error().message, "targets[1]: 205 bytes; a target has at most 140");

  json long_rule = ok;
  long_rule["rrule"] = "FREQ=DAILY;" + std::string(1 << 20, 'X');
  EXPECT_EQ(message(schedule_request_from_json(long_rule)), "rrule: 1048587 bytes; at most 8192");

  json huge = ok;
  huge["bulletin"] = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(message(schedule_request_from_json(huge)),
            "bulletin: must be a whole number below 2^63");
  huge = ok;
  huge["volume"] = std::numeric_limits<std::uint64_t>::max();  // not wrapped to -1
  EXPECT_EQ(message(schedule_request_from_json(huge)), "volume: must be a whole number below 2^63");
}

// The node, user and CAP geocode bodies: each shape error names the field, each text field is
// bounded, and a valid body is read whole.
TEST(ApiRequests, AdministrationBodiesNameTheFieldAndAreBounded) {
  const std::string long_text(8193, 'a');
  auto node = node_input_from_json(json{{"id", "n1"}, {"area", "79/1"}, {"speakers", "3"}});
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->speakers, 3);
  EXPECT_EQ(node->residents, 0);
  auto bad_node = node_input_from_json(json{{"id", "n1"}, {"area", long_text}}, "nodes[2]: ");
  ASSERT_FALSE(bad_node.ok());
  EXPECT_EQ(bad_node.error().message, "nodes[2]: area: 8193 bytes; at most 8192");

  const json user = {{"name", "lan"},
                     {"role", "commune_operator"},
                     {"area", "79/1"},
                     {"password", "long enough pw"}};
  auto in = user_input_from_json(user);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->role, Role::commune_operator);
  EXPECT_EQ(in->area, "79/1");
  for (const char* field : {"name", "area", "password"}) {
    json bad = user;
    bad[field] = long_text;
    auto r = user_input_from_json(bad);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error().message, std::string(field) + ": 8193 bytes; at most 8192");
  }
  for (const char* field : {"name", "role", "area", "password"}) {
    json bad = user;
    bad[field] = nullptr;  // "area" may be absent, but not null
    auto r = user_input_from_json(bad);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error().message.rfind("body: {\"name\", \"role\"", 0), 0u) << r.error().message;
  }

  auto change = user_change_from_json(json{{"disabled", true}, {"role", "viewer"}});
  ASSERT_TRUE(change.ok()) << change.error().message;
  EXPECT_EQ(change->disabled, true);
  EXPECT_EQ(change->role, Role::viewer);
  EXPECT_FALSE(change->area);
  auto unknown = user_change_from_json(json{{"colour", "red"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "colour: not a valid role, area, password or disabled (true/false)");
  auto long_password = user_change_from_json(json{{"password", long_text}});
  ASSERT_FALSE(long_password.ok());
  EXPECT_EQ(long_password.error().message, "password: 8193 bytes; at most 8192");
  EXPECT_EQ(user_change_from_json(json::array()).error().message, "body: not a JSON object");

  const json geocode = {{"value_name", "MA_DVHC"}, {"value", "32014"}, {"area", "79/3"}};
  auto g = geocode_input_from_json(geocode);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->value, "32014");
  for (const char* field : {"value_name", "value", "area"}) {
    json bad = geocode;
    bad[field] = long_text;
    auto r = geocode_input_from_json(bad);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error().message, std::string(field) + ": 8193 bytes; at most 8192");
    bad[field] = 7;
    EXPECT_EQ(geocode_input_from_json(bad).error().message,
              std::string(field) + ": must be a string");
  }
}
