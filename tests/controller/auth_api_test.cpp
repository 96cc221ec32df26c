// Authorization of every API endpoint by role and area, login, CSRF, rate limiting, the local
// token, audit rows, loactl with a token, and the OpenAPI file against the routes (issue 7).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "loa/controller/api_server.hpp"
#include "loa/controller/auth.hpp"
#include "loa/controller/cli.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"
#include "raw_http.hpp"
#include "tone_wav.hpp"

using namespace loa;
using namespace loa::controller;
using nlohmann::json;

namespace {

constexpr const char* kLocalToken =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr const char* kPassword = "a long enough password";

class AuthApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override { stop(); }

  void start() {
    dir_ = std::filesystem::temp_directory_path() /
           ("loa-auth-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::move(open_sqlite_store(":memory:").value());
    if (!accounts_) {
      accounts_ = std::move(AccountStore::open(":memory:").value());
      add_users();
    }
    bus_ = hub_.connect("controller");
    ControllerSettings settings;
    settings.audio_dir = (dir_ / "audio").string();
    controller_ = std::make_unique<Controller>(*store_, *bus_, clock_,
                                               protocol::KeyPair::generate(), settings);
    ASSERT_TRUE(controller_->attach().ok());
    ASSERT_TRUE(bus_->start().ok());
    AuthSettings auth;
    auth.local_token = kLocalToken;
    access_ = std::make_unique<Access>(*accounts_, *controller_, auth);
    server_ = std::make_unique<ApiServer>(*controller_, 16 * 1024 * 1024, access_.get());
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    port_ = *port;
    server_->start();

    // Two communes of province 79; users of every role class.
    for (const auto& [id, area] : std::vector<std::pair<std::string, std::string>>{
             {"n1", "79/26734/01"}, {"n2", "79/26734/02"}, {"n3", "79/26737/01"}}) {
      NodeInput in;
      in.id = id;
      in.area = area;
      in.residents = 100;
      ASSERT_TRUE(controller_->add_node(in).ok());
    }
    const auto wav = test::tone_wav(1.0);
    bulletin_ = controller_->create_bulletin_from_audio("tone", protocol::ByteView(wav))->id;
    own_ = schedule({"area:79/26734"});
    other_ = schedule({"area:79/26737"});
    both_ = schedule({"area:79"});
    ScheduleRequest series;
    series.bulletin_id = bulletin_;
    series.at = "2026-11-02T06:30";
    series.rrule = "FREQ=DAILY";
    series.targets = {"area:79/26734"};
    series_ = controller_->submit(series)->series->id;
  }

  // Users of every role class (once: each Argon2id hash takes a noticeable time) and a bearer
  // session of each, made directly.
  void add_users() {
    const std::vector<std::tuple<std::string, Role, std::string>> users = {
        {"admin", Role::administrator, ""},          {"prov", Role::province_operator, "79"},
        {"op1", Role::commune_operator, "79/26734"}, {"op2", Role::commune_operator, "79/26737"},
        {"viewer", Role::viewer, "79/26734"},        {"viewer_all", Role::viewer, ""}};
    for (const auto& [name, role, area] : users) {
      ASSERT_TRUE(accounts_->add_user(name, role, area, kPassword, clock_.now_us()).ok());
    }
    new_sessions();
  }
  void new_sessions() {
    for (const auto* name : {"admin", "prov", "op1", "op2", "viewer", "viewer_all"}) {
      tokens_[name] = accounts_->create_session(name, true, clock_.now_us(), 3600'000'000)->token;
    }
  }

  void stop() {
    server_->stop();
    bus_->stop(0);
    server_.reset();
    access_.reset();
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The gate again with other settings, on the same controller and accounts.
  void restart_gate(AuthSettings auth) {
    auth.local_token = kLocalToken;
    server_->stop();
    access_ = std::make_unique<Access>(*accounts_, *controller_, std::move(auth));
    server_ = std::make_unique<ApiServer>(*controller_, 1 << 20, access_.get());
    port_ = *server_->bind("127.0.0.1", 0);
    server_->start();
  }

  std::uint64_t schedule(const std::vector<std::string>& targets) {
    ScheduleRequest r;
    r.bulletin_id = bulletin_;
    r.at = "2026-11-01T12:00";
    r.targets = targets;
    auto o = controller_->schedule(r);
    EXPECT_TRUE(o.ok()) << o.error().message;
    return o ? o->id : 0;
  }

  // A request as `who` (a user with a bearer session, "local", or "" for nobody).
  httplib::Result call(const std::string& who, const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& type = "application/json") {
    httplib::Client c("127.0.0.1", port_);
    if (who == "local") c.set_bearer_token_auth(kLocalToken);
    if (tokens_.count(who)) c.set_bearer_token_auth(tokens_[who].c_str());
    if (method == "GET") return c.Get(path);
    if (method == "POST") return c.Post(path, body, type);
    if (method == "PATCH") return c.Patch(path, body, type);
    return c.Delete(path);
  }

  // 403 with {"error": {"code": "forbidden", ...}}; returns the message.
  static std::string forbidden(const httplib::Result& r) {
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 403) << r->body;
    const json j = json::parse(r->body, nullptr, false);
    EXPECT_EQ(j["error"]["code"], "forbidden") << r->body;
    return j["error"].value("message", "");
  }

  std::size_t occurrence_count() { return controller_->list_occurrences(0)->size(); }

  std::filesystem::path dir_;
  runtime::MemoryHub hub_;
  runtime::ManualClock clock_{*parse_utc("2026-11-01T00:00:00Z")};
  std::unique_ptr<Store> store_;
  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<runtime::Bus> bus_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<Access> access_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
  std::map<std::string, std::string> tokens_;
  std::uint64_t bulletin_ = 0;
  std::uint64_t own_ = 0;    // an occurrence in 79/26734 (op1's commune)
  std::uint64_t other_ = 0;  // one in 79/26737 (op2's)
  std::uint64_t both_ = 0;   // one to the whole province
  std::uint64_t series_ = 0;
};

// A request of each route, within op1's commune, so that a refusal can only be the role's.
struct Sample {
  std::string path;
  std::string body;
};

std::map<std::string, Sample> samples(std::uint64_t bulletin, std::uint64_t occ,
                                      std::uint64_t series) {
  const std::string b = std::to_string(bulletin);
  const std::string o = std::to_string(occ);
  const std::string s = std::to_string(series);
  return {
      {"GET /api/v1/session", {"/api/v1/session", ""}},
      {"DELETE /api/v1/session", {"/api/v1/session", ""}},
      {"GET /api/v1/users", {"/api/v1/users", ""}},
      {"POST /api/v1/users",
       {"/api/v1/users", R"({"name": "new", "role": "viewer", "password": "long enough pw"})"}},
      {"PATCH /api/v1/users/{name}", {"/api/v1/users/op2", R"({"disabled": true})"}},
      {"DELETE /api/v1/users/{name}", {"/api/v1/users/op2", ""}},
      {"GET /api/v1/audit", {"/api/v1/audit", ""}},
      {"GET /api/v1/nodes", {"/api/v1/nodes", ""}},
      {"POST /api/v1/nodes", {"/api/v1/nodes", R"({"id": "n9", "area": "79/26734/09"})"}},
      {"POST /api/v1/nodes/import",
       {"/api/v1/nodes/import", R"({"nodes": [{"id": "n9", "area": "79/26734/09"}]})"}},
      {"GET /api/v1/nodes/{id}", {"/api/v1/nodes/n1", ""}},
      {"GET /api/v1/nodes/{id}/history", {"/api/v1/nodes/n1/history", ""}},
      {"POST /api/v1/nodes/{id}/decommission", {"/api/v1/nodes/n1/decommission", ""}},
      {"GET /api/v1/health/nodes", {"/api/v1/health/nodes", ""}},
      {"POST /api/v1/control", {"/api/v1/control", R"({"command": "ping", "nodes": ["n1"]})"}},
      {"GET /api/v1/bulletins", {"/api/v1/bulletins", ""}},
      {"POST /api/v1/bulletins", {"/api/v1/bulletins?title=x", "not audio"}},
      {"GET /api/v1/bulletins/{id}", {"/api/v1/bulletins/" + b, ""}},
      {"GET /api/v1/bulletins/{id}/audio", {"/api/v1/bulletins/" + b + "/audio", ""}},
      {"POST /api/v1/tts/preview", {"/api/v1/tts/preview", "{}"}},
      {"POST /api/v1/tts/preview", {"/api/v1/tts/preview", R"({"text": ""})"}},
      // A bad format is refused after authorization, before a stream starts.
      {"POST /api/v1/live", {"/api/v1/live?targets=area:79/26734&format=bad", ""}},
      // Refused after authorization (a bad rate, an unknown session): no stream starts.
      {"POST /api/v1/live/sessions",
       {"/api/v1/live/sessions", R"({"targets": ["area:79/26734"], "rate": 1})"}},
      {"POST /api/v1/live/sessions/{id}/pcm", {"/api/v1/live/sessions/0/pcm", ""}},
      {"POST /api/v1/live/sessions/{id}/end", {"/api/v1/live/sessions/0/end", ""}},
      {"GET /api/v1/occurrences", {"/api/v1/occurrences", ""}},
      {"POST /api/v1/occurrences",
       {"/api/v1/occurrences",
        json{{"bulletin", bulletin}, {"at", "2026-11-01T13:00"}, {"targets", {"area:79/26734"}}}
            .dump()}},
      {"GET /api/v1/occurrences/{id}", {"/api/v1/occurrences/" + o, ""}},
      {"PATCH /api/v1/occurrences/{id}", {"/api/v1/occurrences/" + o, R"({"volume": 50})"}},
      {"POST /api/v1/occurrences/{id}/cancel", {"/api/v1/occurrences/" + o + "/cancel", ""}},
      {"GET /api/v1/series/{id}", {"/api/v1/series/" + s, ""}},
      {"POST /api/v1/series/{id}/cancel", {"/api/v1/series/" + s + "/cancel", ""}},
      {"GET /api/v1/areas/approval", {"/api/v1/areas/approval", ""}},
      {"POST /api/v1/areas/approval",
       {"/api/v1/areas/approval", R"({"area": "79/26734", "approval": "required"})"}},
      {"GET /api/v1/approvals", {"/api/v1/approvals", ""}},
      {"POST /api/v1/approvals/approve",
       {"/api/v1/approvals/approve", R"({"occurrence": )" + o + R"(, "area": "79/26734"})"}},
      {"POST /api/v1/approvals/reject",
       {"/api/v1/approvals/reject", R"({"occurrence": )" + o + R"(, "area": "79/26734"})"}},
      {"GET /api/v1/groups", {"/api/v1/groups", ""}},
      {"POST /api/v1/groups/{name}", {"/api/v1/groups/g", R"({"add": ["n1"]})"}},
      {"GET /api/v1/coverage", {"/api/v1/coverage?occurrence=" + o, ""}},
      {"GET /api/v1/log", {"/api/v1/log", ""}},
      {"GET /api/v1/log/refused", {"/api/v1/log/refused", ""}},
      {"GET /api/v1/reports/period", {"/api/v1/reports/period?month=2026-11", ""}},
      {"GET /api/v1/reports/verify", {"/api/v1/reports/verify", ""}},
      {"POST /api/v1/cap", {"/api/v1/cap", "<alert/>"}},
      {"GET /api/v1/cap", {"/api/v1/cap", ""}},
      {"GET /api/v1/cap/{id}", {"/api/v1/cap/1", ""}},
      {"GET /api/v1/cap/geocodes", {"/api/v1/cap/geocodes", ""}},
      {"POST /api/v1/cap/geocodes",
       {"/api/v1/cap/geocodes", R"({"value_name": "V", "value": "1", "area": "79/26734"})"}},
      {"DELETE /api/v1/cap/geocodes/{value_name}/{value}", {"/api/v1/cap/geocodes/V/1", ""}},
  };
}

bool allowed(Rule rule, const std::string& who) {
  switch (rule) {
    case Rule::open:
    case Rule::signed_in:
    case Rule::read:
      return true;
    case Rule::read_all:
      return who == "admin" || who == "viewer_all";
    case Rule::operate:
      return who == "admin" || who == "prov" || who == "op1";
    case Rule::manage:
      return who == "admin" || who == "prov";
    case Rule::administer:
      return who == "admin";
  }
  return false;
}

// Every route, every role class: refused (403, nothing changed) or let through to the handler.
TEST_F(AuthApiTest, EveryRouteIsAuthorizedByRole) {
  const auto all = samples(bulletin_, own_, series_);
  const std::vector<std::string> who = {"viewer", "viewer_all", "op1", "prov", "admin"};
  std::map<std::string, std::pair<int, int>> per_role;  // allowed, refused
  for (const auto& route : api_routes()) {
    if (route.rule == Rule::open) continue;
    const std::string key = std::string(route.method) + " " + route.path;
    ASSERT_TRUE(all.count(key)) << "no sample request for " << key;
    const Sample& s = all.at(key);
    for (const auto& w : who) {
      const auto audit_before = accounts_->audit({})->size();
      const auto type = s.body.rfind("<", 0) == 0   ? "application/xml"
                        : s.body.rfind("{", 0) == 0 ? "application/json"
                                                    : "application/octet-stream";
      auto r = call(w, route.method, s.path, s.body, type);
      ASSERT_TRUE(r) << key;
      if (allowed(route.rule, w)) {
        ++per_role[w].first;
        EXPECT_NE(r->status, 401) << key << " as " << w << ": " << r->body;
        EXPECT_NE(r->status, 403) << key << " as " << w << ": " << r->body;
      } else {
        ++per_role[w].second;
        const std::string msg = forbidden(r);
        EXPECT_NE(msg.find(w), std::string::npos) << key << ": " << msg;
        if (std::string(route.method) != "GET") {
          // The refusal is audited too.
          const auto rows = *accounts_->audit({});
          ASSERT_EQ(rows.size(), audit_before + 1) << key;
          EXPECT_EQ(rows.front().actor, w);
          EXPECT_EQ(rows.front().outcome.rfind("403 forbidden", 0), 0u) << rows.front().outcome;
        }
      }
      new_sessions();  // DELETE /api/v1/session ended one
    }
  }
  for (const auto& w : who) {
    EXPECT_GT(per_role[w].first, 0) << w;
    if (w != "admin") {
      EXPECT_GT(per_role[w].second, 0) << w;
    }
  }
}

TEST_F(AuthApiTest, RequestsWithoutCredentialsAreRefused) {
  auto r = call("", "GET", "/api/v1/nodes");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "unauthorized");
  r = call("", "POST", "/api/v1/nodes", R"({"id": "x", "area": "79/1"})");
  EXPECT_EQ(r->status, 401);
  EXPECT_FALSE(controller_->get_node("x").ok());
  EXPECT_EQ(call("", "GET", "/api/v1/health")->status, 200);
  EXPECT_EQ(call("", "GET", "/api/v1/nowhere")->status, 404);
  httplib::Client c("127.0.0.1", port_);
  c.set_bearer_token_auth("not-a-token");
  EXPECT_EQ(c.Get("/api/v1/nodes")->status, 401);
  // The local token is the administrator.
  r = call("local", "GET", "/api/v1/session");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["user"]["role"], "administrator");
  EXPECT_EQ(json::parse(r->body)["via"], "local");
}

TEST_F(AuthApiTest, CommuneOperatorCannotTargetAnotherCommune) {
  const auto before = occurrence_count();
  const auto published = hub_.published_count();
  // Schedule, live, control, approval, group, cancel, change of an occurrence outside op1.
  auto msg = forbidden(call("op1", "POST", "/api/v1/occurrences",
                            json{{"bulletin", bulletin_},
                                 {"at", "2026-11-01T13:00"},
                                 {"targets", {"area:79/26734", "area:79/26737"}}}
                                .dump()));
  EXPECT_NE(msg.find("area:79/26737"), std::string::npos) << msg;
  EXPECT_NE(msg.find("op1"), std::string::npos) << msg;
  msg = forbidden(call(
      "op1", "POST", "/api/v1/occurrences",
      json{{"bulletin", bulletin_}, {"at", "2026-11-01T13:00"}, {"targets", {"node:n3"}}}.dump()));
  EXPECT_NE(msg.find("n3"), std::string::npos) << msg;
  forbidden(call(
      "op1", "POST", "/api/v1/occurrences",
      json{{"bulletin", bulletin_}, {"at", "2026-11-01T13:00"}, {"targets", {"area:79"}}}.dump()));
  forbidden(call("op1", "POST", "/api/v1/live?targets=area:79/26737&priority=emergency", "\0\0"));
  forbidden(call("op1", "POST", "/api/v1/control", R"({"command": "mute", "nodes": ["n3"]})"));
  forbidden(call("op1", "POST", "/api/v1/control", R"({"command": "mute", "area": "79"})"));
  forbidden(call("op1", "POST", "/api/v1/approvals/approve",
                 json{{"occurrence", other_}, {"area", "79/26737"}}.dump()));
  forbidden(call("op1", "POST", "/api/v1/groups/markets", R"({"add": ["n1", "n3"]})"));
  msg = forbidden(call("op1", "POST", "/api/v1/occurrences/" + std::to_string(other_) + "/cancel"));
  EXPECT_NE(msg.find("occurrence " + std::to_string(other_)), std::string::npos) << msg;
  forbidden(call("op1", "POST", "/api/v1/occurrences/" + std::to_string(both_) + "/cancel"));
  forbidden(call("op1", "PATCH", "/api/v1/occurrences/" + std::to_string(own_),
                 R"({"targets": ["area:79/26737"]})"));
  forbidden(call("op2", "POST", "/api/v1/series/" + std::to_string(series_) + "/cancel"));
  // Nothing changed.
  EXPECT_EQ(occurrence_count(), before);
  EXPECT_EQ(hub_.published_count(), published);
  EXPECT_FALSE(controller_->get_occurrence(other_)->cancelled());
  EXPECT_FALSE(controller_->get_occurrence(both_)->cancelled());
  EXPECT_EQ(controller_->get_occurrence(own_)->targets, std::vector<std::string>{"area:79/26734"});
  EXPECT_TRUE(controller_->list_groups()->empty());
  // Within its commune it may.
  auto ok = call(
      "op1", "POST", "/api/v1/occurrences",
      json{{"bulletin", bulletin_}, {"at", "2026-11-01T13:00"}, {"targets", {"node:n2"}}}.dump());
  EXPECT_EQ(ok->status, 201) << ok->body;
  ok = call("op1", "POST", "/api/v1/occurrences/" + std::to_string(own_) + "/cancel");
  EXPECT_EQ(ok->status, 200) << ok->body;
  // A province operator may cancel what spans its province; it may not register outside it.
  EXPECT_EQ(
      call("prov", "POST", "/api/v1/occurrences/" + std::to_string(both_) + "/cancel")->status,
      200);
  forbidden(call("prov", "POST", "/api/v1/nodes", R"({"id": "n8", "area": "80/1"})"));
  EXPECT_FALSE(controller_->get_node("n8").ok());
}

// A node of another province: what a province operator of 79 may neither move, rename nor rekey.
NodeInput hanoi_node(const std::string& key_hex) {
  NodeInput in;
  in.id = "hn-1";
  in.area = "01/00001/01";
  in.name = "Ha Noi 1";
  in.residents = 500;
  in.public_key_hex = key_hex;
  return in;
}

std::string key_hex() {
  const auto key = protocol::KeyPair::generate().public_key;
  return runtime::to_hex(protocol::ByteView(key));
}

TEST_F(AuthApiTest, ImportCannotMoveRenameOrRekeyANodeOfAnotherArea) {
  const std::string key = key_hex();
  ASSERT_TRUE(controller_->add_node(hanoi_node(key)).ok());
  const auto unchanged = [&] {
    const auto n = controller_->get_node("hn-1");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->record.area, "01/00001/01");
    EXPECT_EQ(n->record.name, "Ha Noi 1");
    EXPECT_EQ(n->record.residents, 500);
    ASSERT_TRUE(n->record.public_key.has_value());
    EXPECT_EQ(runtime::to_hex(protocol::ByteView(*n->record.public_key)), key);
  };
  // Into the operator's own province, with a new name and key, behind a row it may import.
  const json batch{{"nodes",
                    {{{"id", "n9"}, {"area", "79/26734/09"}},
                     {{"id", "hn-1"},
                      {"area", "79/26734/05"},
                      {"name", "taken"},
                      {"residents", 1},
                      {"public_key", key_hex()}}}}};
  auto msg = forbidden(call("prov", "POST", "/api/v1/nodes/import", batch.dump()));
  EXPECT_NE(msg.find("hn-1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("01/00001/01"), std::string::npos) << msg;
  EXPECT_NE(msg.find("prov"), std::string::npos) << msg;
  unchanged();
  EXPECT_FALSE(controller_->get_node("n9").ok()) << "nothing of a refused batch is imported";
  // Renaming or rekeying it where it is.
  forbidden(
      call("prov", "POST", "/api/v1/nodes/import",
           json{{"nodes", {{{"id", "hn-1"}, {"area", "01/00001/01"}, {"name", "x"}}}}}.dump()));
  forbidden(
      call("prov", "POST", "/api/v1/nodes/import",
           json{{"nodes", {{{"id", "hn-1"}, {"area", "79/26734/05"}, {"public_key", key_hex()}}}}}
               .dump()));
  unchanged();
  // Within its area the province operator may rename and move; the administrator anywhere.
  auto ok =
      call("prov", "POST", "/api/v1/nodes/import",
           json{{"nodes", {{{"id", "n3"}, {"area", "79/26734/03"}, {"name", "moved"}}}}}.dump());
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(controller_->get_node("n3")->record.area, "79/26734/03");
  ok = call("admin", "POST", "/api/v1/nodes/import",
            json{{"nodes", {{{"id", "hn-1"}, {"area", "79/26734/05"}}}}}.dump());
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(controller_->get_node("hn-1")->record.area, "79/26734/05");
}

// Every route that changes something, tried by a scoped caller on an object outside its area,
// either as the object is (its nodes, members, targets) or as the request would make it: 403
// and nothing changed. A route that changes nothing placed in an area is named with the reason.
TEST_F(AuthApiTest, EveryChangeIsCheckedOnTheObjectAsItIsAndAsItWillBe) {
  ASSERT_TRUE(controller_->add_node(hanoi_node(key_hex())).ok());
  ASSERT_TRUE(controller_->add_to_group("mixed", {"n1", "n3"}).ok());
  // A live session of op2's commune, started by op2.
  auto started = call("op2", "POST", "/api/v1/live/sessions",
                      R"({"targets": ["area:79/26737"], "rate": 8000})");
  ASSERT_EQ(started->status, 201) << started->body;
  const std::string live = json::parse(started->body)["id"];
  clock_.advance(10'000'000);  // its last chunk, paced by the manual clock, is due when it ends
  const std::string other = std::to_string(other_);
  const std::string own = std::to_string(own_);
  const std::string series = std::to_string(series_);

  struct Attempt {
    std::string route;  // "METHOD /template" of api_routes()
    std::string who;
    std::string method;
    std::string path;
    std::string body;
  };
  const std::vector<Attempt> attempts = {
      // New object in another area.
      {"POST /api/v1/nodes", "prov", "POST", "/api/v1/nodes", R"({"id": "n8", "area": "01/2"})"},
      // Existing node elsewhere moved into the caller's area.
      {"POST /api/v1/nodes/import", "prov", "POST", "/api/v1/nodes/import",
       R"({"nodes": [{"id": "hn-1", "area": "79/1"}]})"},
      {"POST /api/v1/nodes/{id}/decommission", "prov", "POST", "/api/v1/nodes/hn-1/decommission",
       ""},
      {"POST /api/v1/control", "op1", "POST", "/api/v1/control",
       R"({"command": "mute", "nodes": ["n3"]})"},
      {"POST /api/v1/control", "op1", "POST", "/api/v1/control",
       R"({"command": "mute", "area": "79/26737"})"},
      {"POST /api/v1/control", "op1", "POST", "/api/v1/control",
       R"({"command": "mute", "nodes": ["n1"], "area": "79/26737"})"},
      {"POST /api/v1/live", "op1", "POST", "/api/v1/live?targets=area:79/26737", ""},
      {"POST /api/v1/live/sessions", "op1", "POST", "/api/v1/live/sessions",
       R"({"targets": ["node:n3"]})"},
      // Someone else's live session, by its id.
      {"POST /api/v1/live/sessions/{id}/pcm", "op1", "POST",
       "/api/v1/live/sessions/" + live + "/pcm", std::string(320, '\0')},
      {"POST /api/v1/live/sessions/{id}/end", "op1", "POST",
       "/api/v1/live/sessions/" + live + "/end", ""},
      {"POST /api/v1/occurrences", "op1", "POST", "/api/v1/occurrences",
       json{{"bulletin", bulletin_}, {"at", "2026-11-01T13:00"}, {"targets", {"group:mixed"}}}
           .dump()},
      // An occurrence as it is (elsewhere), and one of the caller's made to go elsewhere.
      {"PATCH /api/v1/occurrences/{id}", "op1", "PATCH", "/api/v1/occurrences/" + other,
       R"({"volume": 50})"},
      {"PATCH /api/v1/occurrences/{id}", "op1", "PATCH", "/api/v1/occurrences/" + own,
       R"({"targets": ["node:n3"]})"},
      {"POST /api/v1/occurrences/{id}/cancel", "op1", "POST",
       "/api/v1/occurrences/" + other + "/cancel", ""},
      {"POST /api/v1/series/{id}/cancel", "op2", "POST", "/api/v1/series/" + series + "/cancel",
       ""},
      {"POST /api/v1/areas/approval", "prov", "POST", "/api/v1/areas/approval",
       R"({"area": "01", "approval": "none"})"},
      {"POST /api/v1/approvals/approve", "op1", "POST", "/api/v1/approvals/approve",
       R"({"occurrence": )" + other + R"(, "area": "79/26737"})"},
      {"POST /api/v1/approvals/reject", "op1", "POST", "/api/v1/approvals/reject",
       R"({"occurrence": )" + other + R"(, "area": "79/26737"})"},
      // A group as it is (a member elsewhere), and a member from elsewhere added.
      {"POST /api/v1/groups/{name}", "op1", "POST", "/api/v1/groups/mixed",
       R"({"remove": ["n1"]})"},
      {"POST /api/v1/groups/{name}", "op1", "POST", "/api/v1/groups/mine", R"({"add": ["n3"]})"},
  };
  // Routes that change nothing placed in an area, and why.
  const std::map<std::string, std::string> unplaced = {
      {"POST /api/v1/bulletins", "the bulletin catalogue is shared; playing one is checked"},
      {"POST /api/v1/tts/preview", "stores nothing"},
  };

  const auto published = hub_.published_count();
  const auto occurrences = occurrence_count();
  std::set<std::string> tried;
  for (const auto& a : attempts) {
    auto r = call(a.who, a.method, a.path, a.body);
    ASSERT_TRUE(r) << a.route;
    EXPECT_EQ(r->status, 403) << a.route << " " << a.body << ": " << r->body;
    EXPECT_NE(r->body.find("user '" + a.who + "'"), std::string::npos)
        << a.route << ": " << r->body;
    tried.insert(a.route);
  }
  for (const auto& route : api_routes()) {
    const std::string key = std::string(route.method) + " " + route.path;
    if (std::string(route.method) == "GET") continue;
    // Open and signed-in routes act on the caller's own session; administrators always have
    // the whole tree (validate_user refuses an administrator with an area).
    if (route.rule == Rule::open || route.rule == Rule::signed_in ||
        route.rule == Rule::administer) {
      continue;
    }
    EXPECT_TRUE(tried.count(key) || unplaced.count(key))
        << key << " changes something and is not tried across areas";
  }

  // Nothing changed.
  EXPECT_EQ(hub_.published_count(), published);
  EXPECT_EQ(occurrence_count(), occurrences);
  EXPECT_FALSE(controller_->get_node("n8").ok());
  EXPECT_EQ(controller_->get_node("hn-1")->record.area, "01/00001/01");
  EXPECT_EQ(controller_->get_node("hn-1")->record.decommissioned_us, 0);
  EXPECT_FALSE(controller_->get_occurrence(other_)->cancelled());
  EXPECT_EQ(controller_->get_occurrence(own_)->targets, std::vector<std::string>{"area:79/26734"});
  EXPECT_EQ(controller_->get_series(series_)->cancelled_us, 0);
  EXPECT_TRUE(controller_->approval_areas()->empty());
  const auto groups = *controller_->list_groups();
  EXPECT_EQ(groups.size(), 2u) << "mixed keeps n1 and n3; mine was not made";
  // The live session is still op2's to end.
  auto ended = call("op2", "POST", "/api/v1/live/sessions/" + live + "/end");
  ASSERT_TRUE(ended) << httplib::to_string(ended.error());
  EXPECT_EQ(ended->status, 200) << ended->body;
}

TEST_F(AuthApiTest, ReadsAreFilteredToTheCallersArea) {
  auto nodes = json::parse(call("op1", "GET", "/api/v1/nodes")->body)["nodes"];
  std::set<std::string> ids;
  for (const auto& n : nodes) ids.insert(n["id"]);
  EXPECT_EQ(ids, (std::set<std::string>{"n1", "n2"}));
  EXPECT_EQ(json::parse(call("admin", "GET", "/api/v1/nodes")->body)["nodes"].size(), 3u);
  forbidden(call("op1", "GET", "/api/v1/nodes/n3"));
  forbidden(call("viewer", "GET", "/api/v1/nodes/n3/history"));
  forbidden(call("op1", "GET", "/api/v1/occurrences/" + std::to_string(other_)));
  EXPECT_EQ(call("op1", "GET", "/api/v1/occurrences/" + std::to_string(both_))->status, 200);
  std::set<std::uint64_t> occs;
  const auto listed = json::parse(call("op1", "GET", "/api/v1/occurrences?since=2026-11-01")->body);
  for (const auto& o : listed["occurrences"]) {
    occs.insert(o["id"].get<std::uint64_t>());
  }
  EXPECT_TRUE(occs.count(own_) && occs.count(both_));
  EXPECT_FALSE(occs.count(other_));
  forbidden(call("op1", "GET", "/api/v1/log?area=79/26737"));
  EXPECT_EQ(call("op1", "GET", "/api/v1/log?area=79")->status, 200);
  forbidden(call("viewer", "GET", "/api/v1/reports/period?month=2026-11&area=79/26737"));
  const auto period =
      json::parse(call("viewer", "GET", "/api/v1/reports/period?month=2026-11")->body);
  EXPECT_EQ(period["area"], "79/26734");
  // Coverage of the province-wide occurrence: op1 sees its commune's two nodes.
  const auto cov =
      json::parse(call("op1", "GET", "/api/v1/coverage?occurrence=" + std::to_string(both_))->body);
  EXPECT_EQ(cov["targeted"], 2);
  EXPECT_TRUE(cov["rows"].empty());
  const auto all = json::parse(
      call("admin", "GET", "/api/v1/coverage?occurrence=" + std::to_string(both_))->body);
  EXPECT_EQ(all["targeted"], 3);
  const auto health = json::parse(call("op1", "GET", "/api/v1/health/nodes")->body);
  EXPECT_EQ(health["nodes"].size(), 2u);
  for (const auto& id : health["offline"]) EXPECT_NE(id, "n3");
}

TEST_F(AuthApiTest, LoginSetsAStrictHttpOnlyCookieAndChangesNeedTheCsrfToken) {
  httplib::Client c("127.0.0.1", port_);
  auto login = c.Post("/api/v1/session", json{{"name", "op1"}, {"password", kPassword}}.dump(),
                      "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const auto body = json::parse(login->body);
  EXPECT_FALSE(body.contains("token")) << "a browser session's token stays in the cookie";
  const std::string csrf = body["csrf_token"];
  EXPECT_EQ(body["user"]["role"], "commune_operator");
  const std::string session = cookie.substr(0, cookie.find(';'));
  httplib::Headers with_cookie = {{"Cookie", session}};
  auto r = c.Get("/api/v1/nodes", with_cookie);
  EXPECT_EQ(r->status, 200);
  const std::string change =
      json{{"bulletin", bulletin_}, {"at", "2026-11-01T13:00"}, {"targets", {"node:n1"}}}.dump();
  const auto before = occurrence_count();
  auto msg = forbidden(c.Post("/api/v1/occurrences", with_cookie, change, "application/json"));
  EXPECT_NE(msg.find("CSRF"), std::string::npos) << msg;
  httplib::Headers wrong = {{"Cookie", session}, {"X-CSRF-Token", std::string(64, 'a')}};
  forbidden(c.Post("/api/v1/occurrences", wrong, change, "application/json"));
  EXPECT_EQ(occurrence_count(), before);
  httplib::Headers right = {{"Cookie", session}, {"X-CSRF-Token", csrf}};
  r = c.Post("/api/v1/occurrences", right, change, "application/json");
  EXPECT_EQ(r->status, 201) << r->body;
  // Logout ends it.
  r = c.Delete("/api/v1/session", right);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(c.Get("/api/v1/nodes", with_cookie)->status, 401);

  // A bearer login (loactl) returns the token and sets no cookie; it needs no CSRF token.
  auto bearer = c.Post("/api/v1/session",
                       json{{"name", "op1"}, {"password", kPassword}, {"bearer", true}}.dump(),
                       "application/json");
  ASSERT_EQ(bearer->status, 200);
  EXPECT_TRUE(bearer->get_header_value("Set-Cookie").empty());
  httplib::Client b("127.0.0.1", port_);
  b.set_bearer_token_auth(json::parse(bearer->body)["token"].get<std::string>().c_str());
  EXPECT_EQ(b.Post("/api/v1/occurrences", change, "application/json")->status, 201);
  // A bearer token is not a cookie.
  httplib::Headers as_cookie = {
      {"Cookie",
       std::string("loa_session=") + json::parse(bearer->body)["token"].get<std::string>()}};
  EXPECT_EQ(c.Get("/api/v1/nodes", as_cookie)->status, 401);
}

TEST_F(AuthApiTest, LoginFailuresAreRateLimitedPerNameAndAddress) {
  httplib::Client c("127.0.0.1", port_);
  const auto attempt = [&](const std::string& name, const std::string& password) {
    return c.Post("/api/v1/session", json{{"name", name}, {"password", password}}.dump(),
                  "application/json");
  };
  for (int i = 0; i < 5; ++i) {
    auto r = attempt("op1", "wrong password " + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
  }
  auto r = attempt("op1", kPassword);
  ASSERT_EQ(r->status, 429) << "blocked even with the right password";
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "too_many_requests");
  const int retry = std::stoi(r->get_header_value("Retry-After"));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 15 * 60);
  // The address is blocked too, whatever name it tries.
  EXPECT_EQ(attempt("op2", kPassword)->status, 429);
  clock_.advance(static_cast<Micros>(retry) * 1'000'000);
  EXPECT_EQ(attempt("op1", kPassword)->status, 200);
  // Stored, not in memory: a new server on the same accounts still counts them.
  for (int i = 0; i < 5; ++i) (void)attempt("op2", "wrong");
  server_->stop();
  server_ = std::make_unique<ApiServer>(*controller_, 1 << 20, access_.get());
  port_ = *server_->bind("127.0.0.1", 0);
  server_->start();
  httplib::Client again("127.0.0.1", port_);
  EXPECT_EQ(again
                .Post("/api/v1/session", json{{"name", "op2"}, {"password", kPassword}}.dump(),
                      "application/json")
                ->status,
            429);
}

// A login as `name` from `forwarded` (an X-Forwarded-For value; "" none) over loopback.
httplib::Result login_from(int port, const std::string& name, const std::string& password,
                           const std::string& forwarded) {
  httplib::Client c("127.0.0.1", port);
  httplib::Headers headers;
  if (!forwarded.empty()) headers.emplace("X-Forwarded-For", forwarded);
  return c.Post("/api/v1/session", headers, json{{"name", name}, {"password", password}}.dump(),
                "application/json");
}

TEST_F(AuthApiTest, AStrangersWrongPasswordsDoNotLockTheUserOut) {
  AuthSettings auth;
  auth.trusted_proxies = *parse_address_ranges("127.0.0.1");
  auth.login_delay_step_us = 1'000;  // the delay is real time; its size is not what is tested
  auth.login_delay_max_us = 5'000;
  restart_gate(auth);

  // One stranger, many tries: it locks only itself out.
  for (int i = 0; i < 8; ++i) {
    auto r = login_from(port_, "op1", "guess " + std::to_string(i), "203.0.113.7");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, i < 5 ? 401 : 429) << i << ": " << r->body;
  }
  // Strangers at many addresses, a few tries each.
  for (int i = 1; i <= 12; ++i) {
    auto r = login_from(port_, "op1", "guess", "198.51.100." + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
  }
  // The user, from its own address, with its password: in.
  auto r = login_from(port_, "op1", kPassword, "192.0.2.50");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // The stranger's address stays refused, even with the right password.
  EXPECT_EQ(login_from(port_, "op1", kPassword, "203.0.113.7")->status, 429);
  // The audit log names the client and the proxy it came through.
  const auto entries = *accounts_->audit({});
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.front().remote, "203.0.113.7 via 127.0.0.1");
}

TEST_F(AuthApiTest, AForwardedAddressCountsOnlyWhenThePeerIsATrustedProxy) {
  // No proxy trusted (the default): X-Forwarded-For is the client's word and is ignored.
  for (int i = 0; i < 5; ++i) {
    auto r = login_from(port_, "op1", "guess", "198.51.100." + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
  }
  auto r = login_from(port_, "op2", kPassword, "192.0.2.50");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << "every try came from 127.0.0.1: " << r->body;
  EXPECT_EQ(accounts_->audit({})->front().remote, "127.0.0.1");

  // A proxy trusted, but the peer is not it: the same.
  clock_.advance(3600'000'000);
  AuthSettings auth;
  auth.trusted_proxies = *parse_address_ranges("10.0.0.0/8");
  restart_gate(auth);
  for (int i = 0; i < 5; ++i) (void)login_from(port_, "op1", "guess", "198.51.100.9");
  EXPECT_EQ(login_from(port_, "op2", kPassword, "192.0.2.51")->status, 429);

  // The local token is for the controller's own host: through a trusted proxy on loopback, a
  // forwarded client elsewhere is not the host.
  auth.trusted_proxies = *parse_address_ranges("127.0.0.1");
  restart_gate(auth);
  httplib::Client c("127.0.0.1", port_);
  c.set_bearer_token_auth(kLocalToken);
  EXPECT_EQ(c.Get("/api/v1/session", {{"X-Forwarded-For", "203.0.113.9"}})->status, 401);
  EXPECT_EQ(c.Get("/api/v1/session")->status, 200);
}

// Behind a trusted proxy every client's connection comes from the proxy's address: it is not held
// to the per-address connection cap, while any other peer is.
TEST_F(AuthApiTest, OnlyATrustedProxyMayHoldMoreConnectionsThanTheCapPerAddress) {
  const std::size_t cap = http::Limits{}.max_connections_per_address;
  // Opens n connections from 127.0.0.1, each kept after its answer; the last one's status.
  const auto last_of = [this](std::size_t n) {
    std::vector<std::unique_ptr<loa::test::RawConnection>> held;
    int status = 0;
    for (std::size_t i = 0; i < n; ++i) {
      held.push_back(std::make_unique<loa::test::RawConnection>(port_));
      held.back()->send("GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n");
      status = loa::test::status_of(held.back()->read_response());
    }
    return status;
  };
  EXPECT_EQ(last_of(cap + 1), 503) << "no proxy trusted: 127.0.0.1 is one client";
  AuthSettings auth;
  auth.trusted_proxies = *parse_address_ranges("127.0.0.1");
  restart_gate(auth);
  EXPECT_EQ(last_of(cap + 1), 200) << "a trusted proxy counts toward the global limit only";
}

// Page sizes and other numbers of a query are bounded: a huge one is refused naming it, never
// taken as "every row".
TEST_F(AuthApiTest, HugeOrMalformedQueryNumbersAreRefusedNamingTheParameter) {
  for (const std::string path :
       {"/api/v1/log?limit=18446744073709551615", "/api/v1/log?limit=9223372036854775808",
        "/api/v1/log/refused?limit=18446744073709551615", "/api/v1/audit?limit=-1",
        "/api/v1/audit?limit=18446744073709551615", "/api/v1/audit?limit=5x",
        "/api/v1/nodes/n1/history?limit=18446744073709551615", "/api/v1/cap?limit=10001",
        "/api/v1/log?limit=0"}) {
    auto r = call("admin", "GET", path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
    EXPECT_EQ(json::parse(r->body)["error"]["message"].get<std::string>().rfind("limit: ", 0), 0u)
        << r->body;
  }
  auto r = call("admin", "GET", "/api/v1/health/nodes?offline_after_s=18446744073709551615");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("offline_after_s"), std::string::npos) << r->body;
  r = call("admin", "GET", "/api/v1/occurrences/9223372036854775808");
  EXPECT_EQ(r->status, 400) << r->body;
  // Within the bounds, the limit holds (two audited changes, one row asked for).
  for (const char* approval : {"required", "none"}) {
    ASSERT_EQ(call("admin", "POST", "/api/v1/areas/approval",
                   json{{"area", "79"}, {"approval", approval}}.dump())
                  ->status,
              200);
  }
  r = call("admin", "GET", "/api/v1/audit?limit=1");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["entries"].size(), 1u);
  EXPECT_EQ(call("admin", "GET", "/api/v1/log?limit=10000")->status, 200);
}

// Residents and loudspeakers are capped on every way in (add, import, loactl's CSV), so that
// the sums of coverage and reports cannot overflow.
TEST_F(AuthApiTest, ResidentsAndSpeakersAboveTheCapAreRefused) {
  for (const std::string field : {"residents", "speakers"}) {
    const std::int64_t cap = field == "residents" ? kMaxNodeResidents : kMaxNodeSpeakers;
    for (const json& value :
         {json(cap + 1), json(INT64_MAX), json(UINT64_MAX), json("99999999999")}) {
      auto r = call("admin", "POST", "/api/v1/nodes",
                    json{{"id", "big"}, {"area", "79/1"}, {field, value}}.dump());
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400) << field << "=" << value.dump() << ": " << r->body;
      EXPECT_NE(r->body.find(field), std::string::npos) << r->body;
    }
    auto r = call("admin", "POST", "/api/v1/nodes/import",
                  json{{"nodes",
                        {{{"id", "ok"}, {"area", "79/1"}},
                         {{"id", "big"}, {"area", "79/1"}, {field, cap + 1}}}}}
                      .dump());
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("nodes[1]"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(field), std::string::npos) << r->body;
    EXPECT_FALSE(controller_->get_node("ok").ok()) << "nothing of a refused batch is imported";
    r = call("admin", "POST", "/api/v1/nodes",
             json{{"id", "max-" + field}, {"area", "79/1"}, {field, cap}}.dump());
    EXPECT_EQ(r->status, 201) << r->body;
  }
  // loactl's CSV import names the file's line.
  const auto csv = dir_ / "nodes.csv";
  std::ofstream(csv) << "id,area,residents\nc1,79/1,10\nc2,79/1,1000001\n";
  std::ofstream(dir_ / "admin.token") << tokens_["admin"] << "\n";
  std::ostringstream out;
  std::ostringstream err;
  const int code =
      run_loactl({"--controller", "http://127.0.0.1:" + std::to_string(port_), "--token-file",
                  (dir_ / "admin.token").string(), "node", "import", csv.string()},
                 out, err);
  EXPECT_NE(code, 0);
  EXPECT_NE(err.str().find("line 3"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("residents"), std::string::npos) << err.str();
  EXPECT_FALSE(controller_->get_node("c1").ok());
}

TEST_F(AuthApiTest, ChangesAreAuditedWithoutPasswords) {
  auto r = call("admin", "POST", "/api/v1/users",
                json{{"name", "op3"},
                     {"role", "commune_operator"},
                     {"area", "79/26737"},
                     {"password", "secret password 42"}}
                    .dump());
  ASSERT_EQ(r->status, 201) << r->body;
  r = call(
      "op1", "POST", "/api/v1/occurrences",
      json{{"bulletin", bulletin_}, {"at", "2026-11-01T13:00"}, {"targets", {"node:n3"}}}.dump());
  ASSERT_EQ(r->status, 403);
  (void)call("", "POST", "/api/v1/session",
             json{{"name", "op1"}, {"password", "nope nope"}}.dump());
  const auto entries = json::parse(call("admin", "GET", "/api/v1/audit")->body)["entries"];
  ASSERT_GE(entries.size(), 3u);
  EXPECT_EQ(entries[0]["actor"], "op1");
  EXPECT_EQ(entries[0]["action"], "POST /api/v1/session");
  EXPECT_EQ(entries[0]["outcome"].get<std::string>().rfind("401", 0), 0u);
  EXPECT_EQ(entries[1]["actor"], "op1");
  EXPECT_EQ(entries[1]["role"], "commune_operator");
  EXPECT_EQ(entries[1]["remote"], "127.0.0.1");
  EXPECT_EQ(entries[1]["action"], "POST /api/v1/occurrences");
  EXPECT_NE(entries[1]["target"].get<std::string>().find("node:n3"), std::string::npos);
  EXPECT_EQ(entries[1]["outcome"].get<std::string>().rfind("403 forbidden: ", 0), 0u);
  EXPECT_EQ(entries[2]["actor"], "admin");
  EXPECT_EQ(entries[2]["outcome"], "201");
  EXPECT_FALSE(entries[2]["at"].is_null());
  for (const auto& e : entries) {
    EXPECT_EQ(e["target"].get<std::string>().find("secret password"), std::string::npos);
    EXPECT_EQ(e["target"].get<std::string>().find("nope nope"), std::string::npos);
  }
  // A commune operator reads the entries of its commune's users only.
  const auto mine = json::parse(call("op2", "GET", "/api/v1/audit")->body)["entries"];
  for (const auto& e : mine) EXPECT_EQ(e["area"], "79/26737") << e.dump();
}

TEST_F(AuthApiTest, LoactlUsesTheTokenFile) {
  const auto token_file = dir_ / "controller.db.token";
  auto written = write_local_token(token_file.string());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(std::filesystem::status(token_file).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(write_local_token(token_file.string()).value(), *written) << "kept across restarts";
  std::filesystem::permissions(token_file, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  auto replaced = write_local_token(token_file.string());
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(*replaced, *written) << "a file others can read is not trusted";
  EXPECT_EQ(std::filesystem::status(token_file).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // The server's local token is kLocalToken; a different file's token is refused.
  const auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--controller", "http://127.0.0.1:" + std::to_string(port_)});
    std::ostringstream out;
    std::ostringstream err;
    const int code = run_loactl(args, out, err);
    return std::make_tuple(code, out.str(), err.str());
  };
  auto [code, out, err] = ctl({"--token-file", token_file.string(), "node", "list"});
  EXPECT_EQ(code, 1) << out << err;
  EXPECT_NE(err.find("unauthorized"), std::string::npos) << err;
  std::ofstream(token_file) << kLocalToken << "\n";
  std::tie(code, out, err) = ctl({"--token-file", token_file.string(), "node", "list"});
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("n3"), std::string::npos) << out;
  std::tie(code, out, err) = ctl({"--token-file", token_file.string(), "audit"});
  EXPECT_EQ(code, 0) << err;
  std::tie(code, out, err) = ctl({"--token-file", token_file.string(), "user", "list"});
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("commune_operator"), std::string::npos) << out;
  std::ofstream(dir_ / "op1.token") << tokens_["op1"] << "\n";
  std::tie(code, out, err) =
      ctl({"--token-file", (dir_ / "op1.token").string(), "schedule", "--bulletin",
           std::to_string(bulletin_), "--at", "2026-11-01T14:00", "--target", "area:79/26737"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("forbidden"), std::string::npos) << err;
  std::tie(code, out, err) = ctl({"--token-file", (dir_ / "op1.token").string(), "whoami"});
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("op1"), std::string::npos) << out;
}

// docs/openapi.yaml documents exactly the routes the server serves (api_routes(); a path
// outside it is answered 404 before any handler), and every one of them is registered.
TEST_F(AuthApiTest, OpenApiFileListsEveryRouteAndNothingElse) {
  std::ifstream in(std::string(LOA_SOURCE_DIR) + "/docs/openapi.yaml");
  ASSERT_TRUE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(call("", "GET", "/api/v1/openapi.yaml")->body, text) << "served as built";
  std::istringstream lines(text);
  std::set<std::string> documented;
  std::string line;
  std::string path;
  const std::regex path_line(R"(^  (/api/v1/\S*):\s*$)");
  const std::regex method_line(R"(^    (get|post|patch|delete|put):\s*$)");
  std::smatch m;
  bool in_paths = false;
  while (std::getline(lines, line)) {
    if (line.rfind("paths:", 0) == 0) in_paths = true;
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ' && line.rfind("paths:", 0) != 0) in_paths = false;
    if (std::regex_match(line, m, path_line)) path = m[1];
    if (std::regex_match(line, m, method_line)) {
      std::string method = m[1];
      for (auto& ch : method) ch = static_cast<char>(std::toupper(ch));
      documented.insert(method + " " + path);
    }
  }
  std::set<std::string> served;
  for (const auto& r : api_routes()) served.insert(std::string(r.method) + " " + r.path);
  EXPECT_EQ(documented, served);

  const auto all = samples(bulletin_, own_, series_);
  for (const auto& r : api_routes()) {
    const std::string key = std::string(r.method) + " " + r.path;
    std::string concrete = std::regex_replace(std::string(r.path), std::regex(R"(\{[^}]+\})"), "1");
    if (all.count(key)) concrete = all.at(key).path;
    auto res = call("local", r.method, concrete, "{}");
    ASSERT_TRUE(res) << key;
    EXPECT_NE(res->status, 401) << key;
    EXPECT_NE(res->status, 403) << key;
    EXPECT_EQ(res->body.find("no such endpoint"), std::string::npos)
        << key << " is in api_routes() but no handler serves it";
  }
}

// A body nested far deeper than any request needs is refused before anything recursive touches
// it (the login's field lookups, the audit's copy of the body): 400 naming the limit, and the
// controller goes on answering.
TEST_F(AuthApiTest, JsonNested300000DeepIsRefusedAndTheServerStillAnswers) {
  const std::string deep = std::string(300'000, '[') + std::string(300'000, ']');
  auto r = call("", "POST", "/api/v1/session", deep);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("deeper than 64 levels"), std::string::npos) << r->body;
  const std::string deep_name = "{\"name\": " + std::string(300'000, '[') +
                                std::string(300'000, ']') + ", \"password\": \"x\"}";
  r = call("", "POST", "/api/v1/session", deep_name);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = call("admin", "POST", "/api/v1/occurrences", deep);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = call("admin", "POST", "/api/v1/users", deep_name);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = call("", "GET", "/api/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// A text field of the user bodies longer than the decoders' bound is refused naming the field
// and its size, and is not echoed back (a 100,000-byte name used to come back whole in the
// error).
TEST_F(AuthApiTest, OversizeUserFieldsAreRefusedNamingTheFieldWithoutEchoingIt) {
  const std::string huge(100'000, 'a');
  for (const auto& [method, path, field] :
       {std::tuple<std::string, std::string, std::string>{"POST", "/api/v1/users", "name"},
        {"POST", "/api/v1/users", "area"},
        {"PATCH", "/api/v1/users/admin", "area"}}) {
    json body = {{"name", "new"}, {"role", "viewer"}, {"password", "long enough pw"}};
    if (method == "PATCH") body = json::object();
    body[field] = huge;
    auto r = call("admin", method, path, body.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << method << " " << field;
    const std::string message = json::parse(r->body)["error"]["message"];
    EXPECT_EQ(message, field + ": 100000 bytes; at most 8192");
  }
}

// On a kept-alive connection, a request whose header cannot be read (a field of 20,000 bytes)
// comes after an administrator's change: its audit row names nobody, not the administrator.
TEST_F(AuthApiTest, ARequestWhoseHeaderFailsIsNotAuditedUnderThePreviousRequestsUser) {
  loa::test::RawConnection c(port_);
  ASSERT_TRUE(c.ok());
  const std::string body =
      std::string(R"({"name": "newcomer", "role": "viewer", "password": ")") + kPassword + "\"}";
  c.send("POST /api/v1/users HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + tokens_["admin"] +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body);
  const std::string created = c.read_response();
  ASSERT_EQ(loa::test::status_of(created), 201) << created;
  c.send("POST /api/v1/nodes HTTP/1.1\r\nHost: t\r\nX-Long: " + std::string(20000, 'a') +
         "\r\n\r\n");
  const std::string refused = c.read_until_close();
  EXPECT_GE(loa::test::status_of(refused), 400) << refused;
  auto entries = accounts_->audit(AuditQuery{});
  ASSERT_TRUE(entries.ok());
  bool found = false;
  for (const auto& e : *entries) {
    if (e.target.rfind("/api/v1/nodes", 0) != 0) continue;
    found = true;
    EXPECT_EQ(e.actor, "-") << e.action << " " << e.outcome;
    EXPECT_EQ(e.role, "") << e.action;
    EXPECT_EQ(e.action, "POST /api/v1/nodes");
  }
  EXPECT_TRUE(found) << "the refused request has an audit row";
}

}  // namespace
