// The controller's HTTP front against hostile clients, through the real ApiServer on 127.0.0.1:
// an endless chunked body, a megabyte header line, a thousand header fields, a client that
// sends a byte at a time, more connections than allowed, and the http-* config keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "loa/controller/api_server.hpp"
#include "loa/controller/config.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/bus.hpp"
#include "raw_http.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::RawConnection;
using loa::test::status_of;
using namespace std::chrono_literals;

namespace {

// This process's resident memory in bytes (/proc/self/statm).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

class HttpFrontTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("loa-http-front-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::move(open_sqlite_store(":memory:").value());
    bus_ = hub_.connect("controller");
    ControllerSettings settings;
    settings.audio_dir = (dir_ / "audio").string();
    controller_ = std::make_unique<Controller>(*store_, *bus_, clock_,
                                               protocol::KeyPair::generate(), settings);
    ASSERT_TRUE(controller_->attach().ok());
    ASSERT_TRUE(bus_->start().ok());
  }

  void TearDown() override {
    if (server_) server_->stop();
    bus_->stop(0);
    server_.reset();
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename... Args>
  void serve(Args&&... args) {
    server_ = std::make_unique<ApiServer>(*controller_, std::forward<Args>(args)...);
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    server_->start();
  }

  int health() {
    RawConnection c(port_);
    c.send("GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n");
    return status_of(c.read_response());
  }

  std::filesystem::path dir_;
  runtime::MemoryHub hub_;
  runtime::ManualClock clock_{*parse_utc("2026-11-01T00:00:00Z")};
  std::unique_ptr<Store> store_;
  std::unique_ptr<runtime::Bus> bus_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
};

TEST_F(HttpFrontTest, AnEndlessChunkedBodyToAnUnknownPathIsRefusedEarlyWithoutGrowingMemory) {
  serve(std::size_t{64} << 20);
  const std::size_t before = resident_bytes();
  std::atomic<bool> sending{true};
  std::atomic<std::size_t> peak{before};
  std::thread sampler([&] {
    while (sending) {
      peak = std::max(peak.load(), resident_bytes());
      std::this_thread::sleep_for(5ms);
    }
  });
  RawConnection c(port_);
  ASSERT_TRUE(c.send("POST /nowhere HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  const std::size_t total = std::size_t{256} << 20;
  std::size_t sent = 0;
  while (sent < total && !c.readable(0ms) && c.send(chunk)) sent += 0x10000;
  if (sent >= total) c.send("0\r\n\r\n");
  const std::string answer = c.read_response();
  sending = false;
  sampler.join();
  EXPECT_EQ(status_of(answer), 413) << answer.substr(0, 300);
  EXPECT_LT(sent, total) << "the whole body was read";
  EXPECT_LT(peak - before, std::size_t{32} << 20) << "resident memory grew by " << (peak - before);
  EXPECT_EQ(health(), 200);
}

TEST_F(HttpFrontTest, AHeaderLineOfAMegabyteIs431) {
  serve(std::size_t{1} << 20);
  RawConnection c(port_);
  c.send("GET /api/v1/health HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(1 << 20, 'a') +
         "\r\n\r\n");
  const std::string answer = c.read_response();
  EXPECT_EQ(status_of(answer), 431) << answer.substr(0, 300);
  EXPECT_EQ(health(), 200);
}

TEST_F(HttpFrontTest, AThousandHeaderFieldsAre431) {
  serve(std::size_t{1} << 20);
  std::string request = "GET /api/v1/health HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 1000; ++i) request += "X-" + std::to_string(i) + ": v\r\n";
  RawConnection c(port_);
  c.send(request + "\r\n");
  const std::string answer = c.read_response();
  EXPECT_EQ(status_of(answer), 431) << answer.substr(0, 300);
  EXPECT_NE(answer.find("header fields"), std::string::npos) << answer;
  EXPECT_EQ(health(), 200);
}

TEST_F(HttpFrontTest, AJsonBodyOverTheSmallLimitIs413NamingIt) {
  http::Limits limits;
  limits.max_body_bytes = 4096;
  serve(limits);
  RawConnection c(port_);
  const std::string body = "{\"title\": \"" + std::string(5000, 't') + "\"}";
  c.send(
      "POST /api/v1/occurrences HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string answer = c.read_response();
  EXPECT_EQ(status_of(answer), 413) << answer;
  EXPECT_NE(answer.find("4096 bytes"), std::string::npos) << answer;
}

// A province's nodes are imported in one request, larger than a JSON body's limit: the import
// has the upload limit.
TEST_F(HttpFrontTest, ANodeImportHasTheUploadLimit) {
  http::Limits limits;
  limits.max_body_bytes = 4096;
  serve(limits);
  std::string body = R"({"nodes": [)";
  for (int i = 0; i < 100; ++i) {
    body += std::string(i ? "," : "") + R"({"id": "import-)" + std::to_string(i) +
            R"(", "area": "79/26734/01", "name": "a node imported with its province"})";
  }
  body += "]}";
  ASSERT_GT(body.size(), limits.max_body_bytes);
  RawConnection c(port_);
  c.send(
      "POST /api/v1/nodes/import HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string answer = c.read_response();
  EXPECT_EQ(status_of(answer), 200) << answer;
  EXPECT_NE(answer.find("\"imported\": 100"), std::string::npos) << answer;
}

TEST_F(HttpFrontTest, AClientSendingAByteASecondIsDroppedAtTheHeaderDeadline) {
  http::Limits limits;
  limits.header_timeout = 1s;
  serve(limits);
  RawConnection c(port_);
  const std::string request = "GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n";
  std::size_t sent = 0;
  for (; sent < request.size(); ++sent) {
    if (!c.send(request.substr(sent, 1)) || c.readable(1s)) break;
  }
  EXPECT_LT(sent, request.size()) << "the server waited for the whole header";
  const std::string answer = c.read_until_close(5s);
  if (!answer.empty()) {
    EXPECT_EQ(status_of(answer), 408) << answer;
  }
  EXPECT_EQ(health(), 200);
}

TEST_F(HttpFrontTest, ConnectionsBeyondTheLimitGet503WhileTheOthersStillWork) {
  http::Limits limits;
  limits.max_connections = 8;
  limits.header_timeout = 60s;  // the silent connections hold their slots for the whole test
  limits.keep_alive_timeout = 60s;
  serve(limits);
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 7; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port_));
    slow.back()->send("GET /api/v1/hea");  // and nothing more: each holds a connection
  }
  RawConnection working(port_);  // the eighth
  working.send("GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(working.read_response()), 200);
  for (int i = 0; i < 3; ++i) {
    RawConnection extra(port_);
    extra.send("GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(status_of(extra.read_until_close()), 503);
  }
  working.send("GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(working.read_response()), 200);
}

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

TEST(HttpLimitsConfig, KeysBecomeLimitsAndBadOnesAreNamed) {
  const auto defaults = http_limits(ControllerConfig{});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  const http::Limits built_in;
  EXPECT_EQ(defaults->max_body_bytes, built_in.max_body_bytes);
  EXPECT_EQ(defaults->max_upload_bytes, built_in.max_upload_bytes);
  EXPECT_EQ(defaults->max_header_bytes, built_in.max_header_bytes);
  EXPECT_EQ(defaults->max_header_count, built_in.max_header_count);
  EXPECT_EQ(defaults->max_connections, built_in.max_connections);
  EXPECT_EQ(defaults->max_connections_per_address, built_in.max_connections_per_address);
  EXPECT_EQ(defaults->header_timeout, built_in.header_timeout);
  EXPECT_EQ(defaults->body_idle_timeout, built_in.body_idle_timeout);
  EXPECT_EQ(defaults->min_body_rate, built_in.min_body_rate);
  EXPECT_EQ(defaults->keep_alive_timeout, built_in.keep_alive_timeout);

  const auto l = http_limits(parsed(
      {"--max-upload-mb=2", "--http-max-body-kb=8", "--http-max-header-kb=4",
       "--http-max-headers=20", "--http-max-connections=3", "--http-max-connections-per-address=2",
       "--http-header-timeout-s=2", "--http-body-idle-timeout-s=3", "--http-min-body-rate=100",
       "--http-keep-alive-s=1"}));
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->max_upload_bytes, 2u << 20);
  EXPECT_EQ(l->max_body_bytes, 8u << 10);
  EXPECT_EQ(l->max_header_bytes, 4u << 10);
  EXPECT_EQ(l->max_header_count, 20u);
  EXPECT_EQ(l->max_connections, 3u);
  EXPECT_EQ(l->max_connections_per_address, 2u);
  EXPECT_EQ(l->header_timeout, 2s);
  EXPECT_EQ(l->body_idle_timeout, 3s);
  EXPECT_EQ(l->min_body_rate, 100u);
  EXPECT_EQ(l->keep_alive_timeout, 1s);

  for (const std::string key :
       {"max-upload-mb", "http-max-body-kb", "http-max-header-kb", "http-max-headers",
        "http-max-connections", "http-max-connections-per-address", "http-header-timeout-s",
        "http-body-idle-timeout-s", "http-min-body-rate", "http-keep-alive-s"}) {
    const auto bad = http_limits(parsed({"--" + key + "=0"}));
    ASSERT_FALSE(bad.ok()) << key;
    EXPECT_EQ(bad.error().message.rfind(key + ": ", 0), 0u) << bad.error().message;
  }
  const auto many = http_limits(parsed({"--http-max-connections-per-address=10001"}));
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().message, "http-max-connections-per-address: 10001 is outside 1..10000");
}

}  // namespace
