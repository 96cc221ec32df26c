// docs/openapi.yaml against the controller's real answers (issue 7): every route is called on a
// scratch controller behind the real gate (the local token, as loactl sends it), and each JSON
// answer, errors included, is checked against the schema the document gives for its status:
// required properties present with their JSON types, enums, nullability, and no property the
// schema does not list. JSON request bodies that succeed are checked against their requestBody
// schema too. Every route must be seen answering 2xx, so a new route needs a call here.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "controller_fixture.hpp"
#include "loa/controller/api_server.hpp"
#include "loa/controller/auth.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"
#include "schema_checker.hpp"
#include "test_node.hpp"
#include "tone_wav.hpp"
#include "yaml_json.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::SchemaChecker;
using nlohmann::json;

namespace {

constexpr const char* kLocalToken =
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
constexpr const char* kPassword = "a long enough password";
constexpr const char* kJson = "application/json";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// docs/openapi.yaml as JSON; a test fails if it does not load.
const json& document() {
  static const json doc = [] {
    auto d = test::yaml_to_json(read_file(std::string(LOA_SOURCE_DIR) + "/docs/openapi.yaml"));
    EXPECT_TRUE(d.ok()) << "docs/openapi.yaml: " << (d.ok() ? "" : d.error().message);
    return d.ok() ? *d : json::object();
  }();
  return doc;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "\n  " + l;
  return out;
}

// The shared controller fixture (a scratch store, MemoryHub, manual clock at 2026-11-01T00:00Z)
// behind the real gate: accounts, the local token, the API server on a free port.
class OpenApiTest : public test::ControllerFixture {
 protected:
  controller::ControllerSettings settings() const override {
    auto s = ControllerFixture::settings();
    s.trust_first_key = true;  // the nodes' hellos register their keys
    s.event_tolerance_us = 24LL * 3600 * 1'000'000;
    return s;
  }

  void SetUp() override {
    ControllerFixture::SetUp();
    if (HasFatalFailure()) return;
    accounts_ = std::move(AccountStore::open(":memory:").value());
    ASSERT_TRUE(
        accounts_->add_user("viewer", Role::viewer, "79/1", kPassword, clock_.now_us()).ok());
    viewer_token_ = accounts_->create_session("viewer", true, clock_.now_us(), 3600'000'000)->token;
    AuthSettings auth;
    auth.local_token = kLocalToken;
    access_ = std::make_unique<Access>(*accounts_, *controller_, auth);
    server_ = std::make_unique<ApiServer>(*controller_, 16 * 1024 * 1024, access_.get());
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    port_ = *port;
    server_->start();
  }

  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    access_.reset();
    ControllerFixture::TearDown();
  }

  // Calls `path` (an instance of the documented `route`) as `who` ("local": the local token,
  // "viewer", "" nobody, or a bearer token), expects status `want`, checks the answer against
  // the document and returns its JSON (null when it is not JSON).
  json call(int want, const std::string& method, const std::string& route, const std::string& path,
            const std::string& body = "", const std::string& type = kJson,
            const std::string& who = "local") {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    const std::string token = who == "local" ? kLocalToken : who == "viewer" ? viewer_token_ : who;
    if (!token.empty()) c.set_bearer_token_auth(token);
    httplib::Result r = method == "GET"     ? c.Get(path)
                        : method == "POST"  ? c.Post(path, body, type)
                        : method == "PATCH" ? c.Patch(path, body, type)
                                            : c.Delete(path);
    const std::string what = method + " " + path;
    EXPECT_TRUE(r) << what;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, want) << what << ": " << r->body;
    return conforms(method, route, *r, what, body, type);
  }

  // The answer against what the document says of `route` answering `status`.
  json conforms(const std::string& method, const std::string& route, const httplib::Response& res,
                const std::string& what, const std::string& request = "",
                const std::string& request_type = "") {
    const int status = res.status;
    const std::string& answer = res.body;
    std::string content_type = res.get_header_value("Content-Type");
    content_type = content_type.substr(0, content_type.find(';'));
    const json& doc = document();
    const json::json_pointer op_at("/paths/" + json_escape(route) + "/" + lower(method));
    if (!doc.contains(op_at)) {
      ADD_FAILURE() << what << ": " << method << " " << route << " is not in docs/openapi.yaml";
      return nullptr;
    }
    const json& op = doc.at(op_at);
    const json& responses = op.at("responses");
    const std::string code = std::to_string(status);
    const std::string range = code.substr(0, 1) + "XX";
    const json* response = responses.contains(code)        ? &responses[code]
                           : responses.contains(range)     ? &responses[range]
                           : responses.contains("default") ? &responses["default"]
                                                           : nullptr;
    if (!response) {
      ADD_FAILURE() << what << ": status " << status << " is not documented";
      return nullptr;
    }
    if (response->contains("$ref")) response = checker_.resolve((*response)["$ref"]);
    if (!response || !response->contains("content") ||
        !(*response)["content"].contains(content_type)) {
      ADD_FAILURE() << what << ": " << status << " " << content_type
                    << " is not a documented answer";
      return nullptr;
    }
    seen_[method + " " + route].insert(status);
    const json headers = response->value("headers", json::object());
    for (const auto& [name, header] : headers.items()) {
      if (header.value("required", false)) {
        EXPECT_TRUE(res.has_header(name)) << what << ": " << status << " without " << name;
      }
    }
    if (content_type != kJson) return nullptr;
    const json j = json::parse(answer, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << what << ": answer is not JSON: " << answer;
      return nullptr;
    }
    const auto problems = checker_.check((*response)["content"][kJson]["schema"], j, "answer");
    EXPECT_TRUE(problems.empty()) << what << " answered " << status
                                  << ", not as documented:" << joined(problems);
    if (status >= 400) {
      EXPECT_TRUE(j["error"]["code"].is_string() && j["error"]["message"].is_string() &&
                  !j["error"]["message"].get<std::string>().empty())
          << what << ": " << answer;
    }
    // A request that succeeded is an example of the documented request body.
    if (status < 300 && request_type == kJson && !request.empty() &&
        op.contains(json::json_pointer("/requestBody/content/application~1json/schema"))) {
      const auto in =
          checker_.check(op.at(json::json_pointer("/requestBody/content/application~1json/schema")),
                         json::parse(request, nullptr, false), "request");
      EXPECT_TRUE(in.empty()) << what << ": the body sent is not as documented:" << joined(in);
    }
    return j;
  }

  static std::string json_escape(const std::string& route) {
    std::string out;
    for (char c : route) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
    return out;
  }

  std::string cap(const std::string& name) {
    return read_file(std::string(LOA_SOURCE_DIR) + "/tests/fixtures/cap/" + name);
  }

  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<Access> access_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
  std::string viewer_token_;
  SchemaChecker checker_{document()};
  std::map<std::string, std::set<int>> seen_;  // "METHOD /route" -> statuses answered
};

// The checker itself: each kind of disagreement is found and named (so that a conforming answer
// above means something).
TEST(SchemaCheckerTest, FindsEachKindOfDisagreement) {
  const json doc = {{"components",
                     {{"schemas",
                       {{"Thing",
                         {{"type", "object"},
                          {"additionalProperties", false},
                          {"required", {"id", "kind"}},
                          {"properties",
                           {{"id", {{"type", "integer"}}},
                            {"kind", {{"type", "string"}, {"enum", {"a", "b"}}}},
                            {"when", {{"type", "string"}, {"nullable", true}}},
                            {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}}}}}}};
  const SchemaChecker c(doc);
  const json ref = {{"$ref", "#/components/schemas/Thing"}};
  EXPECT_TRUE(c.check(ref, {{"id", 1}, {"kind", "a"}, {"when", nullptr}, {"tags", {"x"}}}).empty());
  const auto one = [&](const json& v) {
    const auto p = c.check(ref, v);
    return p.size() == 1 ? p.front() : "problems: " + std::to_string(p.size()) + joined(p);
  };
  EXPECT_EQ(one({{"kind", "a"}}), "$: required property 'id' is missing");
  EXPECT_EQ(one({{"id", "1"}, {"kind", "a"}}), "$.id: string \"1\" where the schema has integer");
  EXPECT_EQ(one({{"id", 1.5}, {"kind", "a"}}), "$.id: number 1.5 where the schema has integer");
  EXPECT_EQ(one({{"id", 1}, {"kind", "c"}}), "$.kind: \"c\" is not one of [\"a\",\"b\"]");
  EXPECT_EQ(one({{"id", 1}, {"kind", "a"}, {"extra", 0}}), "$.extra: property not in the schema");
  EXPECT_EQ(one({{"id", nullptr}, {"kind", "a"}}), "$.id: null where the schema allows none");
  EXPECT_EQ(one({{"id", 1}, {"kind", "a"}, {"tags", {1}}}),
            "$.tags[0]: integer 1 where the schema has string");
  EXPECT_EQ(one(json::array()), "$: array [] where the schema has object");
  EXPECT_EQ(c.check({{"$ref", "#/components/schemas/Nothing"}}, 1).size(), 1u);
  EXPECT_EQ(c.check({{"typo", "string"}}, "x").size(), 1u) << "an unknown keyword is reported";
  const json either = {{"oneOf", {{{"type", "integer"}}, {{"type", "number"}}}}};
  EXPECT_EQ(c.check(either, 1.5).size(), 0u);
  EXPECT_EQ(c.check(either, 1).size(), 1u) << "1 is both an integer and a number";
}

// The YAML reader refuses what would make it read another document than a YAML parser does.
TEST(YamlJsonTest, ReadsTheCoreSchemaAndRefusesDuplicateKeys) {
  auto j = test::yaml_to_json("a: 1\nb: [x, \"2\", 2.5, true, null]\nc: {d: ~}\n\"4XX\": e\n");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ(*j, json::parse(R"({"a": 1, "b": ["x", "2", 2.5, true, null], "c": {"d": null},
                               "4XX": "e"})"));
  auto dup = test::yaml_to_json("paths:\n  /x:\n    get: 1\n  /x:\n    post: 2\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "yaml line 4: duplicate key '/x'");
  EXPECT_FALSE(test::yaml_to_json("a: &x 1\nb: *x\n").ok());
  EXPECT_FALSE(test::yaml_to_json("a: [1\n").ok());
}

// The document loads, every reference resolves, every answer schema is closed (says whether
// other properties may appear), every 4xx/5xx answer is the error object, and every route has a
// 2xx answer.
TEST_F(OpenApiTest, DocumentIsCompleteAndClosed) {
  const json& doc = document();
  ASSERT_TRUE(doc.contains("paths"));
  std::set<std::string> routes;
  for (const auto& r : api_routes()) routes.insert(std::string(r.method) + " " + r.path);
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      std::string upper = method;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const std::string what = upper + " " + path;
      EXPECT_TRUE(routes.count(what)) << what << " is documented but not a route";
      bool success = false;
      for (const auto& [code, response] : op["responses"].items()) {
        success = success || code[0] == '2';
        const json& r = response.contains("$ref") ? *checker_.resolve(response["$ref"]) : response;
        ASSERT_TRUE(r.contains("content")) << what << " " << code;
        for (const auto& [type, media] : r["content"].items()) {
          ASSERT_TRUE(media.contains("schema")) << what << " " << code << " " << type;
          if (type != kJson) continue;
          const auto open = checker_.open_objects(media["schema"], what + " " + code);
          EXPECT_TRUE(open.empty()) << "objects without additionalProperties:" << joined(open);
          if (code[0] == '4' || code[0] == '5') {
            EXPECT_EQ(media["schema"], json({{"$ref", "#/components/schemas/Error"}}))
                << what << " " << code;
          }
        }
      }
      EXPECT_TRUE(success) << what << " has no 2xx answer";
      EXPECT_TRUE(op["responses"].contains("4XX") && op["responses"].contains("5XX"))
          << what << ": its errors are not documented";
    }
  }
  // Every reference anywhere resolves.
  std::vector<const json*> todo{&doc};
  while (!todo.empty()) {
    const json* j = todo.back();
    todo.pop_back();
    if (j->is_object() && j->contains("$ref")) {
      EXPECT_NE(checker_.resolve((*j)["$ref"]), nullptr) << (*j)["$ref"];
    }
    if (j->is_structured()) {
      for (const auto& sub : *j) todo.push_back(&sub);
    }
  }
}

// Every route on a scratch controller: the answers, successes and refusals, as documented.
TEST_F(OpenApiTest, EveryRouteAnswersAsDocumented) {
  // Open routes.
  call(200, "GET", "/api/v1/health", "/api/v1/health", "", kJson, "");
  call(200, "GET", "/api/v1/openapi.yaml", "/api/v1/openapi.yaml", "", kJson, "");

  // Nodes.
  const std::string nodes = "/api/v1/nodes";
  call(201, "POST", nodes, nodes, R"({"id": "n1", "area": "79/1/01", "residents": 100})");
  call(201, "POST", nodes, nodes,
       R"({"id": "n2", "area": "79/1/02", "speakers": 2, "residents": 50, "name": "Chợ"})");
  call(201, "POST", nodes, nodes, R"({"id": "n3", "area": "79/2/01", "residents": "70"})");
  call(409, "POST", nodes, nodes, R"({"id": "n1", "area": "79/1/01"})");
  call(400, "POST", nodes, nodes, R"({"area": "79/1/01"})");
  call(400, "POST", nodes, nodes, "not json");
  call(200, "POST", "/api/v1/nodes/import", "/api/v1/nodes/import",
       R"({"nodes": [{"id": "n4", "area": "79/3/01"}, {"id": "n5", "area": "79/3/02"}]})");
  call(400, "POST", "/api/v1/nodes/import", "/api/v1/nodes/import", R"({"nodes": 3})");
  call(200, "POST", "/api/v1/nodes/{id}/decommission", "/api/v1/nodes/n5/decommission");
  call(409, "POST", "/api/v1/nodes/{id}/decommission", "/api/v1/nodes/n5/decommission");

  // Nodes that talk: n1 says hello (its key is taken), sends a status with a playback in it.
  test::TestNode n1(hub_, clock_, "n1");
  test::TestNode n3(hub_, clock_, "n3");
  n1.hello({});
  n3.hello({});
  idle();

  // Bulletins.
  const std::string bulletins = "/api/v1/bulletins";
  const json tts = call(201, "POST", bulletins, bulletins,
                        R"({"title": "Thông báo", "text": "Xin chào bà con.", "voice": "vi"})");
  const auto wav = test::tone_wav(1.0);
  const json tone = call(201, "POST", bulletins, bulletins + "?title=Tone",
                         std::string(wav.begin(), wav.end()), "audio/wav");
  call(422, "POST", bulletins, bulletins + "?title=x", "not audio", "audio/wav");
  call(400, "POST", bulletins, bulletins, R"({"title": "", "text": ""})");
  ASSERT_TRUE(tone.is_object() && tts.is_object());
  const std::string b = std::to_string(tone["id"].get<std::uint64_t>());
  call(200, "GET", bulletins, bulletins);
  call(200, "GET", "/api/v1/bulletins/{id}", bulletins + "/" + b);
  call(404, "GET", "/api/v1/bulletins/{id}", bulletins + "/999999");
  call(400, "GET", "/api/v1/bulletins/{id}", bulletins + "/abc");
  call(200, "GET", "/api/v1/bulletins/{id}/audio", bulletins + "/" + b + "/audio");
  call(200, "POST", "/api/v1/tts/preview", "/api/v1/tts/preview", R"({"text": "Xin chào"})");
  call(400, "POST", "/api/v1/tts/preview", "/api/v1/tts/preview", R"({"text": ""})");

  // Scheduling: one occurrence, a series, a dry run, refusals.
  const std::string occ = "/api/v1/occurrences";
  const json single =
      call(201, "POST", occ, occ,
           R"({"bulletin": )" + b + R"(, "at": "2026-11-01T12:00", "targets": ["area:79/1"]})");
  ASSERT_TRUE(single.is_object());
  const std::string o = std::to_string(single["id"].get<std::uint64_t>());
  const json second =
      call(201, "POST", occ, occ,
           R"({"bulletin": )" + b +
               R"(, "at": "2026-11-01T12:00", "tz": "Asia/Ho_Chi_Minh", "targets": ["node:n1"],
                   "priority": "priority", "volume": 90, "expiry": "2026-11-01T12:30"})");
  ASSERT_TRUE(second.is_object());
  EXPECT_FALSE(second["warnings"].empty()) << "it waits behind the first: " << second.dump();
  const json series = call(201, "POST", occ, occ,
                           R"({"bulletin": )" + b +
                               R"(, "at": "2026-11-02T06:30", "rrule": "FREQ=DAILY;COUNT=3",
                                   "targets": ["area:79/1"]})");
  ASSERT_TRUE(series.is_object() && series["series"].is_object());
  const std::string s = std::to_string(series["series"]["id"].get<std::uint64_t>());
  const json dry = call(200, "POST", occ, occ,
                        R"({"bulletin": )" + b +
                            R"(, "at": "2026-11-01T12:00", "targets": ["area:79"],
                                "dry_run": true, "days": 2})");
  ASSERT_TRUE(dry.is_object());
  EXPECT_FALSE(dry["timelines"].empty());
  call(201, "POST", occ, occ,
       R"({"bulletin": )" + b +
           R"(, "at": "2026-11-01T20:00", "repeat_every_min": 30, "until": "2026-11-01T21:00",
               "targets": ["area:79/1"], "priority": "emergency"})");
  call(422, "POST", occ, occ,
       R"({"bulletin": )" + b + R"(, "at": "2026-10-01T12:00", "targets": ["area:79/1"]})");
  call(400, "POST", occ, occ, R"({"bulletin": )" + b + R"(, "targets": ["area:79/1"]})");
  call(404, "POST", occ, occ,
       R"({"bulletin": 999999, "at": "2026-11-01T12:00", "targets": ["area:79/1"]})");
  call(200, "GET", occ, occ);
  call(200, "GET", occ, occ + "?since=2026-11-01");
  call(400, "GET", occ, occ + "?since=yesterday");
  call(200, "GET", "/api/v1/occurrences/{id}", occ + "/" + o);
  call(404, "GET", "/api/v1/occurrences/{id}", occ + "/999999");
  const std::string o2 = std::to_string(second["id"].get<std::uint64_t>());
  call(200, "PATCH", "/api/v1/occurrences/{id}", occ + "/" + o2, R"({"volume": 80})");
  call(400, "PATCH", "/api/v1/occurrences/{id}", occ + "/" + o2, R"({"colour": "red"})");
  call(200, "POST", "/api/v1/occurrences/{id}/cancel", occ + "/" + o2 + "/cancel");
  call(409, "POST", "/api/v1/occurrences/{id}/cancel", occ + "/" + o2 + "/cancel");
  call(200, "GET", "/api/v1/series/{id}", "/api/v1/series/" + s);
  call(404, "GET", "/api/v1/series/{id}", "/api/v1/series/999999");
  call(200, "POST", "/api/v1/series/{id}/cancel", "/api/v1/series/" + s + "/cancel");

  // Approval and groups.
  const std::string approval = "/api/v1/areas/approval";
  call(200, "POST", approval, approval, R"({"area": "79/2", "approval": "required"})");
  call(400, "POST", approval, approval, R"({"area": "79/2"})");
  call(200, "GET", approval, approval);
  // Pushed from above 79/2: pending for its nodes.
  const auto pending = [&](const std::string& at) {
    const json p = call(201, "POST", occ, occ,
                        R"({"bulletin": )" + b + R"(, "at": ")" + at +
                            R"(", "targets": ["area:79"], "priority": "priority"})");
    return p.is_object() ? std::to_string(p["id"].get<std::uint64_t>()) : std::string("0");
  };
  const std::string approve = pending("2026-11-01T13:00");
  const std::string reject = pending("2026-11-01T14:00");
  const json approvals = call(200, "GET", "/api/v1/approvals", "/api/v1/approvals");
  EXPECT_EQ(approvals["approvals"].size(), 2u) << approvals.dump();
  call(200, "POST", "/api/v1/approvals/approve", "/api/v1/approvals/approve",
       R"({"occurrence": )" + approve + R"(, "area": "79/2"})");
  call(200, "POST", "/api/v1/approvals/reject", "/api/v1/approvals/reject",
       R"({"occurrence": )" + reject + R"(, "area": "79/2"})");
  call(400, "POST", "/api/v1/approvals/reject", "/api/v1/approvals/reject", R"({"area": "79/2"})");
  call(200, "POST", "/api/v1/groups/{name}", "/api/v1/groups/markets", R"({"add": ["n1", "n2"]})");
  call(200, "POST", "/api/v1/groups/{name}", "/api/v1/groups/markets", R"({"remove": ["n2"]})");
  call(404, "POST", "/api/v1/groups/{name}", "/api/v1/groups/markets", R"({"add": ["nobody"]})");
  call(200, "GET", "/api/v1/groups", "/api/v1/groups");

  // Node health, history, control: a status with a playback in it, a will.
  protocol::Status st;
  st.node_id = "n1";
  st.version = "test";
  st.uptime_s = 60;
  st.clock_offset_us = 1500;
  st.cpu_temp_mc = 47000;
  st.site_output = "rssi -70";
  st.last_occurrence_id = single["id"].get<std::uint64_t>();
  st.last_end_us = clock_.now_us();
  n1.raw("status", protocol::seal(protocol::MessageType::status, n1.keys(), clock_.now_us(),
                                  1'000'000, protocol::encode(st)));
  n3.status();
  idle();
  const json history = call(200, "GET", "/api/v1/nodes/{id}/history", "/api/v1/nodes/n1/history");
  EXPECT_FALSE(history["statuses"].empty());
  call(200, "GET", "/api/v1/nodes/{id}/history", "/api/v1/nodes/n1/history?limit=1");
  call(400, "GET", "/api/v1/nodes/{id}/history", "/api/v1/nodes/n1/history?limit=x");
  call(200, "GET", "/api/v1/health/nodes", "/api/v1/health/nodes");
  call(200, "GET", "/api/v1/health/nodes", "/api/v1/health/nodes?offline_after_s=1");
  call(200, "GET", nodes, nodes);
  call(200, "GET", "/api/v1/nodes/{id}", nodes + "/n1");
  call(404, "GET", "/api/v1/nodes/{id}", nodes + "/nobody");
  call(200, "POST", "/api/v1/control", "/api/v1/control",
       R"({"command": "ping", "nodes": ["n1"]})");
  call(200, "POST", "/api/v1/control", "/api/v1/control",
       R"({"command": "volume", "value": 50, "area": "79/1"})");
  call(400, "POST", "/api/v1/control", "/api/v1/control",
       R"({"command": "dance", "nodes": ["n1"]})");

  // Playback: n1 completes the first occurrence; n3 reports one that did not target it.
  const std::uint64_t first = single["id"].get<std::uint64_t>();
  n1.event(n1.completed(first, tone["id"].get<std::uint64_t>(), 1));
  n3.event(n3.completed(first, tone["id"].get<std::uint64_t>(), 1));
  idle();
  const json log = call(200, "GET", "/api/v1/log", "/api/v1/log");
  EXPECT_FALSE(log["events"].empty());
  call(200, "GET", "/api/v1/log", "/api/v1/log?node=n1&area=79/1&limit=5&occurrence=" + o);
  call(400, "GET", "/api/v1/log", "/api/v1/log?bulletin=x");
  const json refused = call(200, "GET", "/api/v1/log/refused", "/api/v1/log/refused");
  EXPECT_FALSE(refused["refused"].empty());
  EXPECT_TRUE(refused["next"].is_null());
  call(400, "GET", "/api/v1/log/refused", "/api/v1/log/refused?reason=bogus");
  // Pages: a full page names the next one; the page size is bounded.
  const json page = call(200, "GET", "/api/v1/log/refused", "/api/v1/log/refused?limit=1");
  ASSERT_EQ(page["refused"].size(), 1u);
  ASSERT_TRUE(page["next"].is_number());
  const json after = call(200, "GET", "/api/v1/log/refused",
                          "/api/v1/log/refused?limit=1&after=" + page["next"].dump());
  EXPECT_TRUE(after["refused"].empty());
  call(400, "GET", "/api/v1/log/refused", "/api/v1/log/refused?limit=1001");
  call(400, "GET", "/api/v1/log/refused", "/api/v1/log/refused?limit=18446744073709551615");
  call(200, "GET", "/api/v1/coverage", "/api/v1/coverage?occurrence=" + o + "&by=area");
  call(200, "GET", "/api/v1/coverage", "/api/v1/coverage?bulletin=" + b);
  call(400, "GET", "/api/v1/coverage", "/api/v1/coverage?bulletin=" + b + "&by=day");
  call(404, "GET", "/api/v1/coverage", "/api/v1/coverage?occurrence=999999");
  const std::string period = "/api/v1/reports/period";
  call(200, "GET", period, period + "?month=2026-11&by=area");
  call(200, "GET", period, period + "?year=2026&by=bulletin&area=79");
  call(200, "GET", period, period + "?from=2026-11-01&to=2026-11-02&by=day");
  call(400, "GET", period, period + "?month=November");
  call(200, "GET", "/api/v1/reports/verify", "/api/v1/reports/verify");
  call(200, "GET", "/api/v1/reports/verify", "/api/v1/reports/verify?month=2026-11");

  // CAP.
  const std::string geocodes = "/api/v1/cap/geocodes";
  call(200, "POST", geocodes, geocodes,
       R"({"value_name": "MA_DVHC", "value": "26734", "area": "79/1"})");
  call(200, "POST", geocodes, geocodes,
       R"({"value_name": "MA_DVHC", "value": "26737", "area": "79/2"})");
  call(400, "POST", geocodes, geocodes, R"({"value_name": "MA_DVHC", "value": "1"})");
  call(200, "GET", geocodes, geocodes);
  call(201, "POST", "/api/v1/cap", "/api/v1/cap", cap("storm_actual.xml"), "application/xml");
  call(200, "POST", "/api/v1/cap", "/api/v1/cap", cap("storm_actual.xml"), "application/xml");
  call(200, "POST", "/api/v1/cap", "/api/v1/cap", cap("storm_test.xml"), "application/xml");
  call(400, "POST", "/api/v1/cap", "/api/v1/cap", cap("malformed.xml"), "application/xml");
  call(422, "POST", "/api/v1/cap", "/api/v1/cap", cap("draft.xml"), "application/xml");
  const json alerts = call(200, "GET", "/api/v1/cap", "/api/v1/cap");
  ASSERT_TRUE(alerts.is_object() && !alerts["alerts"].empty());
  const std::string a = std::to_string(alerts["alerts"][0]["id"].get<std::uint64_t>());
  call(200, "GET", "/api/v1/cap/{id}", "/api/v1/cap/" + a);
  call(404, "GET", "/api/v1/cap/{id}", "/api/v1/cap/999999");
  call(200, "DELETE", "/api/v1/cap/geocodes/{value_name}/{value}", geocodes + "/MA_DVHC/26737");
  call(404, "DELETE", "/api/v1/cap/geocodes/{value_name}/{value}", geocodes + "/MA_DVHC/26737");

  // Accounts: users, sessions, the audit log; the gate's refusals.
  const std::string users = "/api/v1/users";
  call(
      201, "POST", users, users,
      R"({"name": "ed", "role": "commune_operator", "area": "79/1", "password": "long enough pw"})");
  call(409, "POST", users, users,
       R"({"name": "ed", "role": "viewer", "password": "long enough pw"})");
  call(400, "POST", users, users, R"({"name": "x", "role": "king", "password": "long enough pw"})");
  call(200, "GET", users, users);
  call(200, "PATCH", "/api/v1/users/{name}", users + "/ed", R"({"role": "viewer"})");
  call(400, "PATCH", "/api/v1/users/{name}", users + "/ed", R"({"disabled": "yes"})");
  call(404, "PATCH", "/api/v1/users/{name}", users + "/nobody", R"({"disabled": true})");
  call(200, "DELETE", "/api/v1/users/{name}", users + "/ed");
  call(404, "DELETE", "/api/v1/users/{name}", users + "/ed");
  const std::string session = "/api/v1/session";
  const json bearer =
      call(200, "POST", session, session,
           std::string(R"({"name": "viewer", "password": ")") + kPassword + R"(", "bearer": true})",
           kJson, "");
  call(200, "POST", session, session,
       std::string(R"({"name": "viewer", "password": ")") + kPassword + R"("})", kJson, "");
  call(400, "POST", session, session, R"({"name": "viewer"})", kJson, "");
  call(200, "GET", session, session);
  call(200, "GET", session, session, "", kJson, "viewer");
  call(200, "GET", "/api/v1/audit", "/api/v1/audit");
  call(200, "GET", "/api/v1/audit", "/api/v1/audit?actor=local-admin&limit=3&since=2026-11-01");
  call(400, "GET", "/api/v1/audit", "/api/v1/audit?since=soon");
  call(401, "GET", nodes, nodes, "", kJson, "");
  call(401, "GET", nodes, nodes, "", kJson, "not-a-token");
  call(403, "POST", nodes, nodes, R"({"id": "n9", "area": "79/1/09"})", kJson, "viewer");
  call(403, "GET", "/api/v1/reports/verify", "/api/v1/reports/verify", "", kJson, "viewer");
  call(403, "GET", "/api/v1/nodes/{id}", nodes + "/n3", "", kJson, "viewer");
  ASSERT_TRUE(bearer.is_object() && bearer["token"].is_string());
  call(200, "DELETE", session, session, "", kJson, bearer["token"].get<std::string>());
  call(200, "DELETE", session, session);
  // Failed logins until the address is refused (after every successful login above).
  for (int i = 0; i < 5; ++i) {
    call(401, "POST", session, session, R"({"name": "ghost", "password": "wrong password"})", kJson,
         "");
  }
  call(429, "POST", session, session, R"({"name": "ghost", "password": "wrong password"})", kJson,
       "");
  {
    // A path that is no route: the gate's 404 is the error object too.
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/api/v1/nowhere");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    const auto problems = checker_.check({{"$ref", "#/components/schemas/Error"}},
                                         json::parse(r->body, nullptr, false));
    EXPECT_TRUE(problems.empty()) << r->body << joined(problems);
  }

  // Live, last: its audio is paced by the controller's clock, which a thread moves on meanwhile.
  std::atomic<bool> live{true};
  std::thread ticker([&] {
    while (live) {
      clock_.advance(20'000);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const std::string pcm(48000 / 5 * 2, '\0');  // 200 ms of silence, s16le mono 48 kHz
  call(200, "POST", "/api/v1/live", "/api/v1/live?targets=area:79/1&priority=priority&chime=0", pcm,
       "application/octet-stream");
  call(400, "POST", "/api/v1/live", "/api/v1/live?targets=area:79/1&format=s16le:0:1", pcm,
       "application/octet-stream");
  const std::string sessions = "/api/v1/live/sessions";
  const json started = call(201, "POST", sessions, sessions,
                            R"({"targets": ["area:79/1"], "priority": "emergency",
                                "chime": false, "title": "Trực tiếp", "rate": 48000})");
  call(400, "POST", sessions, sessions, R"({"targets": ["area:79/1"], "rate": 5})");
  ASSERT_TRUE(started.is_object() && started["id"].is_string());
  const std::string id = started["id"];
  call(200, "POST", "/api/v1/live/sessions/{id}/pcm", sessions + "/" + id + "/pcm", pcm,
       "application/octet-stream");
  call(200, "POST", "/api/v1/live/sessions/{id}/end", sessions + "/" + id + "/end", "{}");
  call(404, "POST", "/api/v1/live/sessions/{id}/pcm", sessions + "/" + id + "/pcm", pcm,
       "application/octet-stream");
  call(404, "POST", "/api/v1/live/sessions/{id}/end", sessions + "/abc123/end", "{}");
  live = false;
  ticker.join();

  // Every route was seen answering 2xx, and each kind of refusal was seen.
  std::set<int> errors;
  for (const auto& [route, statuses] : seen_) {
    for (int st2 : statuses) {
      if (st2 >= 400) errors.insert(st2);
    }
  }
  for (const auto& r : api_routes()) {
    const std::string key = std::string(r.method) + " " + r.path;
    const auto& got = seen_[key];
    EXPECT_TRUE(std::any_of(got.begin(), got.end(), [](int x) { return x / 100 == 2; }))
        << key << " was not called with success here: add a call";
  }
  EXPECT_EQ(errors, (std::set<int>{400, 401, 403, 404, 409, 422, 429}));
}

}  // namespace
