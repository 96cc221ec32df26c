// The accounts' config keys (session-ttl-s, login-max-failures, login-window-s, cookie-secure,
// trusted-proxies) from the command line or config file to the gate: the cookie's lifetime and
// Secure flag, a session ending with its lifetime, the rate limit's count and window.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "controller_fixture.hpp"
#include "loa/controller/api_server.hpp"
#include "loa/controller/auth.hpp"
#include "loa/controller/config.hpp"
#include "loa/controller/local_time.hpp"

using namespace loa;
using namespace loa::controller;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "a long enough password";

// The config the daemon would read from these flags.
ControllerConfig parsed(std::vector<std::string> flags) {
  ControllerConfig config;
  const auto options = controller_options(config);
  flags.insert(flags.begin(), "loa-controller");
  std::vector<char*> argv;
  for (auto& f : flags) argv.push_back(f.data());
  runtime::po::variables_map vm;
  EXPECT_TRUE(runtime::parse_options(static_cast<int>(argv.size()), argv.data(), options, vm,
                                     "loa-controller", ""));
  return config;
}

TEST(AuthSettingsConfig, KeysBecomeSettingsAndBadOnesAreNamed) {
  const auto defaults = auth_settings(ControllerConfig{});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  const AuthSettings built_in;
  EXPECT_EQ(defaults->session_ttl_us, built_in.session_ttl_us);
  EXPECT_EQ(defaults->max_login_failures, built_in.max_login_failures);
  EXPECT_EQ(defaults->login_window_us, built_in.login_window_us);
  EXPECT_FALSE(defaults->cookie_secure);

  const auto s = auth_settings(parsed(
      {"--session-ttl-s=120", "--login-max-failures=2", "--login-window-s=60", "--cookie-secure"}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->session_ttl_us, 120'000'000);
  EXPECT_EQ(s->max_login_failures, 2);
  EXPECT_EQ(s->login_window_us, 60'000'000);
  EXPECT_TRUE(s->cookie_secure);

  EXPECT_TRUE(defaults->trusted_proxies.empty()) << "no proxy is trusted unless configured";
  const auto proxied = auth_settings(parsed({"--trusted-proxies=127.0.0.1, 10.0.0.0/8"}));
  ASSERT_TRUE(proxied.ok()) << proxied.error().message;
  EXPECT_EQ(proxied->trusted_proxies.size(), 2u);

  for (const auto& [flag, key] : std::vector<std::pair<std::string, std::string>>{
           {"--session-ttl-s=59", "session-ttl-s"},
           {"--login-max-failures=0", "login-max-failures"},
           {"--login-window-s=86401", "login-window-s"},
           {"--trusted-proxies=10.0.0.0/33", "trusted-proxies"},
           {"--trusted-proxies=proxy.example", "trusted-proxies"}}) {
    const auto bad = auth_settings(parsed({flag}));
    ASSERT_FALSE(bad.ok()) << flag;
    EXPECT_EQ(bad.error().message.rfind(key + ": ", 0), 0u) << bad.error().message;
  }
}

// The shared controller fixture behind a gate made from the flags.
class AuthSettingsTest : public test::ControllerFixture {
 protected:
  void SetUp() override {
    ControllerFixture::SetUp();
    if (HasFatalFailure()) return;
    accounts_ = std::move(AccountStore::open(":memory:").value());
    ASSERT_TRUE(accounts_->add_user("op", Role::viewer, "", kPassword, clock_.now_us()).ok());
    auto auth = auth_settings(parsed({"--session-ttl-s=120", "--login-max-failures=2",
                                      "--login-window-s=60", "--cookie-secure=true"}));
    ASSERT_TRUE(auth.ok());
    access_ = std::make_unique<Access>(*accounts_, *controller_, *auth);
    server_ = std::make_unique<ApiServer>(*controller_, 1024 * 1024, access_.get());
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }
  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    access_.reset();
    ControllerFixture::TearDown();
  }

  httplib::Result login(const std::string& password) {
    return client_->Post("/api/v1/session", json{{"name", "op"}, {"password", password}}.dump(),
                         "application/json");
  }

  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<Access> access_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(AuthSettingsTest, CookieIsSecureAndLastsTheConfiguredTime) {
  auto r = login(kPassword);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string cookie = r->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Max-Age=120"), std::string::npos) << cookie;
  const json body = json::parse(r->body);
  EXPECT_EQ(body["expires"], "2026-11-01T00:02:00Z");
  const std::string value = cookie.substr(0, cookie.find(';'));
  const httplib::Headers with_cookie = {{"Cookie", value}};
  EXPECT_EQ(client_->Get("/api/v1/session", with_cookie)->status, 200);

  // Logging out clears the cookie with the same attributes.
  httplib::Headers logout = with_cookie;
  logout.emplace("X-CSRF-Token", body["csrf_token"].get<std::string>());
  auto out = client_->Delete("/api/v1/session", logout);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->body;
  EXPECT_NE(out->get_header_value("Set-Cookie").find("; Secure; Max-Age=0"), std::string::npos)
      << out->get_header_value("Set-Cookie");

  // A new session ends after 120 s.
  r = login(kPassword);
  ASSERT_TRUE(r && r->status == 200);
  const std::string next = r->get_header_value("Set-Cookie");
  const httplib::Headers again = {{"Cookie", next.substr(0, next.find(';'))}};
  clock_.advance(119'000'000);
  EXPECT_EQ(client_->Get("/api/v1/session", again)->status, 200);
  clock_.advance(2'000'000);
  EXPECT_EQ(client_->Get("/api/v1/session", again)->status, 401);
}

TEST_F(AuthSettingsTest, RateLimitCountsTheConfiguredFailuresInTheConfiguredWindow) {
  EXPECT_EQ(login("wrong password")->status, 401);
  EXPECT_EQ(login(kPassword)->status, 200) << "one failure of two allowed";
  EXPECT_EQ(login("wrong password")->status, 401);
  auto r = login(kPassword);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << "two failures from this address within 60 s (a success clears "
                               "only the name's count): "
                            << r->body;
  const int wait_s = std::stoi(r->get_header_value("Retry-After"));
  EXPECT_GT(wait_s, 0);
  EXPECT_LE(wait_s, 60);
  clock_.advance(61'000'000);
  EXPECT_EQ(login(kPassword)->status, 200) << "the failures have left the window";
}

}  // namespace
