// The web console end to end in headless Chromium (issue 7): an operator logs in, makes a TTS
// bulletin from Vietnamese text (hearing the preview first), schedules it to a commune a few
// seconds ahead, sees it play in the playback log and counted on the Coverage page. Screenshots
// are written to <build>/tests/browser/screenshots/ and their paths printed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "deployment_test.hpp"
#include "tone_wav.hpp"
#include "webdriver.hpp"

using namespace loa;
using loa::test::eventually;
using nlohmann::json;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

class ConsoleE2E : public test::DeploymentTest {
 protected:
  void SetUp() override {
    chromium_ = env_or("LOA_CHROMIUM", "/usr/bin/chromium");
    chromedriver_ = env_or("LOA_CHROMEDRIVER", "/usr/bin/chromedriver");
    if (::access(chromium_.c_str(), X_OK) != 0 || ::access(chromedriver_.c_str(), X_OK) != 0) {
      GTEST_SKIP() << "needs Debian's chromium and chromium-driver (" << chromium_ << ", "
                   << chromedriver_ << "; or set LOA_CHROMIUM / LOA_CHROMEDRIVER)";
    }
    test::DeploymentTest::SetUp();
    shots_ = std::string(LOA_BINARY_DIR) + "/tests/browser/screenshots";
    std::filesystem::create_directories(shots_);
  }

  // POST with the controller's local administrator token.
  httplib::Result admin_post(const std::string& path, const json& body) {
    std::ifstream in(d_->local_token_file());
    std::string token;
    std::getline(in, token);
    httplib::Client c(d_->controller_url());
    c.set_bearer_token_auth(token);
    return c.Post(path, body.dump(), "application/json");
  }

  void shot(test::WebDriver& web, const std::string& name) {
    const std::string path = shots_ + "/" + name + ".png";
    web.screenshot(path);
    std::cout << "screenshot: " << path << "\n";
    EXPECT_GT(std::filesystem::file_size(path), 1000u) << path;
  }

  // Opens a page of the console and waits until it has rendered.
  void open(test::WebDriver& web, const std::string& page) {
    web.script("location.hash = arguments[0];", json::array({"#/" + page}));
    ASSERT_TRUE(web.wait_for("document.querySelector('#view').dataset.ready === '" + page + "'",
                             std::chrono::seconds(20)))
        << page << ": " << web.script("return document.querySelector('#msg').textContent;");
  }

  std::string chromium_, chromedriver_, shots_;
};

TEST_F(ConsoleE2E, OperatorMakesSchedulesAndSeesABulletinPlayAndCounted) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  d_->add_node({"n2", "79/26737/01", 2, 800});
  auto user = admin_post("/api/v1/users", {{"name", "op1"},
                                           {"role", "commune_operator"},
                                           {"area", "79/26734"},
                                           {"password", "mật khẩu thử nghiệm"}});
  ASSERT_TRUE(user);
  ASSERT_EQ(user->status, 201) << user->body;

  test::WebDriver web(chromedriver_, chromium_, d_->dir() / "chromedriver.log");
  web.go(d_->controller_url() + "/");
  ASSERT_TRUE(web.wait_for("document.querySelector('#view').dataset.ready === 'login'",
                           std::chrono::seconds(20)));
  // Vietnamese by default.
  EXPECT_EQ(web.script("return document.querySelector('#login-submit').textContent;"), "Đăng nhập");
  web.type("#login-name", "op1");
  web.type("#login-password", "mật khẩu thử nghiệm");
  shot(web, "01-login");
  web.click("#login-submit");
  ASSERT_TRUE(web.wait_for("document.querySelector('#view').dataset.ready === 'overview'",
                           std::chrono::seconds(20)))
      << web.script("return document.querySelector('#msg').textContent;");
  shot(web, "02-overview");

  // A bulletin from Vietnamese text: the preview is synthesized, nothing stored, then saved.
  open(web, "bulletins");
  web.type("#tts-title", "Thông báo lịch tiêm chủng");
  web.type("#tts-text",
           "Thông báo của Ủy ban nhân dân xã: sáng thứ bảy tuần này, trạm y tế tổ chức tiêm "
           "chủng cho trẻ em dưới năm tuổi.");
  web.click("#tts-preview");
  ASSERT_TRUE(web.wait_for("+document.querySelector('#tts-audio').dataset.bytes > 1000",
                           std::chrono::seconds(30)))
      << web.script("return document.querySelector('#msg').textContent;");
  EXPECT_EQ(json::parse(d_->http_get("/api/v1/bulletins"))["bulletins"].size(), 0u)
      << "a preview stores nothing";
  web.click("#tts-save");
  ASSERT_TRUE(
      web.wait_for("document.querySelector('#view').dataset.created", std::chrono::seconds(30)))
      << web.script("return document.querySelector('#msg').textContent;");
  const std::string bulletin =
      web.script("return document.querySelector('#view').dataset.created;").get<std::string>();
  shot(web, "03-bulletin-created");

  // A recording uploaded from a file.
  const std::string wav = d_->dir() / "ghi-am.wav";
  const auto tone = test::tone_wav(2.0);
  std::ofstream(wav, std::ios::binary)
      .write(reinterpret_cast<const char*>(tone.data()), static_cast<std::streamsize>(tone.size()));
  web.type("#up-title", "Bản ghi âm thử");
  web.type("#up-file", wav);
  web.click("#up-save");
  ASSERT_TRUE(web.wait_for("document.querySelector('#view').dataset.created !== '" + bulletin + "'",
                           std::chrono::seconds(30)))
      << web.script("return document.querySelector('#msg').textContent;");
  const json list = json::parse(d_->http_get("/api/v1/bulletins"))["bulletins"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["source"], "audio");
  EXPECT_EQ(list[1]["title"], "Bản ghi âm thử");

  // Scheduled to the commune 79/26734 (node n1 only) a few seconds ahead, conflicts checked first.
  open(web, "schedule");
  web.script("document.querySelector('#sch-bulletin').value = arguments[0];",
             json::array({bulletin}));
  web.click("[data-target='area:79/26734']");
  protocol::Micros at = 0;
  const std::string wall = test::utc_wall_time(test::now_us() + 7'000'000, &at);
  web.script("document.querySelector('#sch-at').value = arguments[0];", json::array({wall}));
  web.type("#sch-tz", "UTC");
  web.click("#sch-check");
  ASSERT_TRUE(web.wait_for("document.querySelector('#sch-result').textContent !== ''",
                           std::chrono::seconds(20)))
      << web.script("return document.querySelector('#msg').textContent;");
  web.click("#sch-save");
  ASSERT_TRUE(
      web.wait_for("document.querySelector('#view').dataset.created", std::chrono::seconds(20)))
      << web.script("return document.querySelector('#msg').textContent;");
  const std::string occurrence =
      web.script("return document.querySelector('#view').dataset.created;").get<std::string>();
  shot(web, "04-scheduled");

  // It plays: n1 reports it completed; n2, in the other commune, was not targeted.
  ASSERT_TRUE(eventually([&] { return events_of(std::stoll(occurrence)).count("n1") == 1; },
                         std::chrono::seconds(60)))
      << d_->logs();
  const auto events = events_of(std::stoll(occurrence));
  EXPECT_EQ(events.at("n1")["outcome"], "completed");
  EXPECT_EQ(events.count("n2"), 0u);
  open(web, "log");
  EXPECT_TRUE(
      web.wait_for("document.querySelector('#view table') && "
                   "document.querySelector('#view table').textContent.includes('completed')",
                   std::chrono::seconds(10)));
  shot(web, "05-playback-log");

  open(web, "coverage");
  web.script("document.querySelector('#cov-bulletin').value = arguments[0];",
             json::array({bulletin}));
  web.click("#cov-show");
  ASSERT_TRUE(
      web.wait_for("document.querySelector('#cov-result').dataset.completed === '1' && "
                   "document.querySelector('#cov-result').dataset.targeted === '1'",
                   std::chrono::seconds(10)))
      << web.script("return document.querySelector('#cov-result').textContent;");
  EXPECT_EQ(web.script("return document.querySelector('#cov-completed').textContent;"), "1");
  shot(web, "06-coverage");

  // Live from the (fake) microphone to the commune for about 3 s: n1 plays it.
  open(web, "live");
  web.click("[data-target='area:79/26734']");
  web.click("#live-start");
  ASSERT_TRUE(
      web.wait_for("/ [3-9]\\.[0-9] s/.test(document.querySelector('#live-state').textContent)",
                   std::chrono::seconds(20)))
      << web.script("return document.querySelector('#msg').textContent;");
  shot(web, "06b-live");
  web.click("#live-stop");
  ASSERT_TRUE(
      web.wait_for("document.querySelector('#view').dataset.created", std::chrono::seconds(20)))
      << web.script("return document.querySelector('#msg').textContent;");
  const std::string live =
      web.script("return document.querySelector('#view').dataset.created;").get<std::string>();
  ASSERT_TRUE(eventually([&] { return events_of(std::stoll(live)).count("n1") == 1; },
                         std::chrono::seconds(30)))
      << d_->logs();
  EXPECT_EQ(events_of(std::stoll(live)).at("n1")["outcome"], "completed")
      << events_of(std::stoll(live)).at("n1").dump();

  // The audit log shows the operator's own changes.
  open(web, "audit");
  EXPECT_TRUE(
      web.wait_for("document.querySelector('#view').textContent.includes('POST "
                   "/api/v1/occurrences')",
                   std::chrono::seconds(10)));

  // English on request, remembered across a reload.
  web.click("#lang");
  ASSERT_TRUE(web.wait_for("document.querySelector('#nav-coverage').textContent === 'Coverage'",
                           std::chrono::seconds(10)));
  web.go(d_->controller_url() + "/#/nodes");
  ASSERT_TRUE(web.wait_for("document.querySelector('#view').dataset.ready === 'nodes'",
                           std::chrono::seconds(20)));
  EXPECT_EQ(web.script("return document.querySelector('#nav-nodes').textContent;"), "Nodes");
  const std::string nodes_text = web.script("return document.querySelector('#view').innerText;");
  EXPECT_NE(nodes_text.find("n1"), std::string::npos) << nodes_text;
  EXPECT_EQ(nodes_text.find("n2"), std::string::npos)
      << "outside the operator's area: " << nodes_text;
  // The volume is set from the Nodes page (a signed Control to n1), and its history opens.
  web.script("document.querySelector('#vol-n1').value = 70;");
  web.click("#set-n1");
  EXPECT_TRUE(web.wait_for("document.querySelector('#msg').textContent.includes('n1 Volume 70')",
                           std::chrono::seconds(10)))
      << web.script("return document.querySelector('#msg').textContent;");
  web.click("#hist-n1");
  EXPECT_TRUE(
      web.wait_for("!document.querySelector('#node-history').hidden", std::chrono::seconds(10)));
  shot(web, "07-nodes-english");

  // The overview now lists today's broadcasts (the bulletin and the live one) and their coverage.
  open(web, "overview");
  EXPECT_TRUE(web.wait_for("document.querySelector('#view svg.bars')", std::chrono::seconds(10)));
  shot(web, "08-overview-after");
}

}  // namespace
