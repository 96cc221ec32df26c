// The web console's files as served by the API server (built in, content types, no-cache), the
// TTS preview endpoint (speech back, nothing stored) and live sessions fed in segments.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "loa/controller/api_server.hpp"
#include "loa/controller/console.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"

using namespace loa;
using namespace loa::controller;
using nlohmann::json;

namespace {

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = open_sqlite_store(":memory:");
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    bus_ = hub_.connect("controller");
    ControllerSettings settings;
    settings.audio_dir = ::testing::TempDir() + "/loa-console-test-audio";
    controller_ = std::make_unique<Controller>(*store_, *bus_, clock_,
                                               protocol::KeyPair::generate(), settings);
    ASSERT_TRUE(controller_->attach().ok());
    ASSERT_TRUE(bus_->start().ok());
    server_ = std::make_unique<ApiServer>(*controller_, 1024 * 1024);
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }
  void TearDown() override {
    server_->stop();
    bus_->stop(0);
    server_.reset();
    controller_.reset();
  }

  runtime::MemoryHub hub_;
  runtime::SystemClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<runtime::Bus> bus_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ConsoleTest, ServesEveryFileWithItsTypeAndNoCache) {
  const std::map<std::string, std::string> types = {{"index.html", "text/html; charset=utf-8"},
                                                    {"app.js", "text/javascript; charset=utf-8"},
                                                    {"i18n.js", "text/javascript; charset=utf-8"},
                                                    {"style.css", "text/css; charset=utf-8"}};
  for (const auto& [name, type] : types) {
    auto r = client_->Get("/console/" + name);
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->status, 200) << name;
    EXPECT_EQ(r->get_header_value("Content-Type"), type) << name;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache") << name;
    bool found = false;
    for (const auto& a : console_assets()) {
      if (a.name == name) {
        found = true;
        EXPECT_EQ(r->body, a.bytes) << name;
      }
    }
    EXPECT_TRUE(found) << name << " is not built in";
  }
  auto root = client_->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  EXPECT_NE(root->body.find("/console/app.js"), std::string::npos);
  // Vietnamese by default, with its diacritics intact through the byte arrays.
  auto i18n = client_->Get("/console/i18n.js");
  EXPECT_NE(i18n->body.find("Đăng nhập"), std::string::npos);
  auto missing = client_->Get("/console/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("nothing.js"), std::string::npos);
}

TEST_F(ConsoleTest, TtsPreviewAnswersSpeechAndStoresNothing) {
  auto r = client_->Post("/api/v1/tts/preview",
                         json{{"text", "Xin chào bà con, đây là bản tin thử nghiệm."}}.dump(),
                         "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "audio/ogg");
  ASSERT_GT(r->body.size(), 1000u);
  EXPECT_EQ(r->body.substr(0, 4), "OggS");
  auto list = controller_->list_bulletins();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());

  auto empty = client_->Post("/api/v1/tts/preview", R"({"text": ""})", "application/json");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_NE(empty->body.find("text"), std::string::npos);
  auto bad = client_->Post("/api/v1/tts/preview", "not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(ConsoleTest, LiveInSegmentsIsBroadcastAndArchived) {
  auto node =
      client_->Post("/api/v1/nodes", R"({"id": "n1", "area": "79/26734/01"})", "application/json");
  ASSERT_TRUE(node);
  ASSERT_EQ(node->status, 201) << node->body;
  auto bad = client_->Post("/api/v1/live/sessions", R"({"targets": ["area:79/26734"], "rate": 5})",
                           "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("rate"), std::string::npos) << bad->body;
  auto start =
      client_->Post("/api/v1/live/sessions", R"({"targets": ["area:79/26734"], "rate": 16000})",
                    "application/json");
  ASSERT_TRUE(start);
  ASSERT_EQ(start->status, 201) << start->body;
  const std::string id = json::parse(start->body)["id"];
  // 1 s of a 440 Hz tone in 4 segments of 250 ms.
  for (int seg = 0; seg < 4; ++seg) {
    std::string pcm;
    for (int i = 0; i < 4000; ++i) {
      const auto v =
          static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * 440 * (seg * 4000 + i) / 16000.0));
      pcm.push_back(static_cast<char>(v & 0xff));
      pcm.push_back(static_cast<char>((v >> 8) & 0xff));
    }
    auto r = client_->Post("/api/v1/live/sessions/" + id + "/pcm", pcm, "application/octet-stream");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  auto end = client_->Post("/api/v1/live/sessions/" + id + "/end", "{}", "application/json");
  ASSERT_TRUE(end);
  ASSERT_EQ(end->status, 200) << end->body;
  const json summary = json::parse(end->body);
  EXPECT_NEAR(summary["duration_s"].get<double>(), 1.0, 0.05) << end->body;
  EXPECT_GT(summary["occurrence_id"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(summary["archived"], true) << end->body;
  auto bulletin = controller_->get_bulletin(summary["bulletin_id"].get<std::uint64_t>());
  ASSERT_TRUE(bulletin);
  EXPECT_EQ(bulletin->source, "live");
  // Ended: no more segments.
  auto after = client_->Post("/api/v1/live/sessions/" + id + "/pcm", std::string(4, '\0'),
                             "application/octet-stream");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 404);
}

}  // namespace
