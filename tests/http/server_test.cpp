// loa::http::Server against a real socket on 127.0.0.1: routing, headers, bodies in every
// framing, and each limit (body per route, header bytes and count, connections, deadlines),
// with limits made small so that each is reached quickly.
#include "loa/http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "raw_http.hpp"

using namespace loa;
using loa::test::RawConnection;
using loa::test::status_of;
using namespace std::chrono_literals;

namespace {

class ServerTest : public ::testing::Test {
 protected:
  void start(http::Limits limits = {},
             std::function<bool(const std::string&)> exempt_from_address_limit = nullptr) {
    server_ = std::make_unique<http::Server>(limits);
    if (exempt_from_address_limit) {
      server_->set_exempt_from_address_limit(std::move(exempt_from_address_limit));
    }
    server_->Get(R"(/items/([^/]+))", [](const http::Request& req, http::Response& res) {
      res.set_content("item " + req.matches[1].str() + " q=" + req.get_param_value("q") +
                          " agent=" + req.get_header_value("x-agent"),
                      "text/plain");
    });
    server_->Post("/echo", [](const http::Request& req, http::Response& res) {
      res.set_content(std::to_string(req.body.size()) + ":" + req.body.substr(0, 16), "text/plain");
    });
    server_->Post(
        "/big",
        [](const http::Request& req, http::Response& res) {
          res.set_content(std::to_string(req.body.size()), "text/plain");
        },
        http::Body::large);
    server_->Post("/stream", [this](const http::Request&, http::Response& res,
                                    const http::ContentReader& content) {
      std::size_t total = 0;
      std::size_t largest = 0;
      const bool complete = content([&](const char*, std::size_t n) {
        total += n;
        largest = std::max(largest, n);
        return true;
      });
      largest_piece_ = largest;
      res.set_content(std::to_string(total) + (complete ? " complete" : " cut"), "text/plain");
    });
    server_->Get("/wait", [this](const http::Request&, http::Response& res) {
      std::unique_lock lock(mutex_);
      const bool released = cv_.wait_for(lock, 20s, [this] { return released_; });
      res.set_content(released ? "released" : "never released", "text/plain");
    });
    server_->Get("/release", [this](const http::Request&, http::Response& res) {
      {
        std::lock_guard lock(mutex_);
        released_ = true;
      }
      cv_.notify_all();
      res.set_content("ok", "text/plain");
    });
    server_->Get("/throw",
                 [](const http::Request&, http::Response&) { throw std::runtime_error("boom"); });
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    server_->start();
  }

  std::string exchange(const std::string& request) {
    RawConnection c(port_);
    EXPECT_TRUE(c.ok());
    c.send(request);
    return c.read_response();
  }

  static std::string body_of(const std::string& response) {
    const auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
  }

  std::unique_ptr<http::Server> server_;
  int port_ = 0;
  std::atomic<std::size_t> largest_piece_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST_F(ServerTest, RoutesByMethodAndPathWithDecodedParamsAndCaseInsensitiveHeaders) {
  start();
  const auto r =
      exchange("GET /items/a%20b?q=x+y%21&z HTTP/1.1\r\nHost: t\r\nX-Agent: probe\r\n\r\n");
  EXPECT_EQ(status_of(r), 200) << r;
  EXPECT_EQ(body_of(r), "item a b q=x y! agent=probe");
  EXPECT_EQ(status_of(exchange("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n")), 404);
  EXPECT_EQ(status_of(exchange("DELETE /items/1 HTTP/1.1\r\nHost: t\r\n\r\n")), 404);
  EXPECT_EQ(status_of(exchange("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n")), 500);
  EXPECT_EQ(status_of(exchange("NOT AN HTTP REQUEST\r\n\r\n")), 400);
}

TEST_F(ServerTest, ALongPathIsMatchedAndATargetOver8KiBIs414) {
  start();
  auto r = exchange("GET /items/" + std::string(8000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(r), 200);
  EXPECT_EQ(body_of(r).size(), 5 + 8000 + 10u) << body_of(r).substr(0, 40);
  r = exchange("GET /items/" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(r), 414) << r.substr(0, 200);
}

// A handler that blocks holds its own connection only: another connection's request is served
// meanwhile (here it is what unblocks the first).
TEST_F(ServerTest, ABlockedHandlerDoesNotStallOtherConnections) {
  start();
  RawConnection waiting(port_);
  waiting.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(body_of(exchange("GET /release HTTP/1.1\r\nHost: t\r\n\r\n")), "ok");
  EXPECT_EQ(body_of(waiting.read_response(30s)), "released");
}

TEST_F(ServerTest, ReadsBodiesOfEveryFramingAndKeepsTheConnectionAlive) {
  start();
  RawConnection c(port_);
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(body_of(c.read_response()), "5:hello");
  c.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "7:abcdefg");
  c.send("GET /items/2 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(c.read_response()), 200);
}

TEST_F(ServerTest, ABodyOverTheRouteLimitIsRefusedWhateverItsFraming) {
  http::Limits limits;
  limits.max_body_bytes = 1000;
  limits.max_upload_bytes = 5000;
  start(limits);
  // Announced too large: refused before any body byte is read.
  auto r = exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_EQ(status_of(r), 413) << r;
  EXPECT_NE(r.find("1000 bytes"), std::string::npos) << r;
  // Chunked: refused once the bytes pass the limit.
  const std::string chunk = "200\r\n" + std::string(512, 'x') + "\r\n";
  r = exchange("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
               chunk + chunk);
  EXPECT_EQ(status_of(r), 413) << r;
  // A chunk header announcing more than the limit: refused at once.
  r = exchange(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "ffffffffff\r\n");
  EXPECT_EQ(status_of(r), 413) << r;
  // The large limit is the route's.
  r = exchange("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\n\r\n" +
               std::string(4000, 'y'));
  EXPECT_EQ(body_of(r), "4000");
  // An unknown route's body has the small limit.
  r = exchange("POST /nowhere HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
               chunk + chunk);
  EXPECT_EQ(status_of(r), 413) << r;
}

TEST_F(ServerTest, AStreamedBodyArrivesInBoundedPiecesBeyondEveryLimit) {
  http::Limits limits;
  limits.max_body_bytes = 1000;
  limits.max_upload_bytes = 1000;
  start(limits);
  RawConnection c(port_);
  c.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string piece(100'000, 'p');
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
  for (int i = 0; i < 30; ++i) c.send(size + piece + "\r\n");
  c.send("0\r\n\r\n");
  const auto r = c.read_response();
  EXPECT_EQ(body_of(r), "3000000 complete") << r;
  EXPECT_LE(largest_piece_.load(), 64u * 1024);
  EXPECT_GT(largest_piece_.load(), 0u);
}

TEST_F(ServerTest, AHeaderOverTheByteLimitIs431) {
  http::Limits limits;
  limits.max_header_bytes = 4096;
  start(limits);
  RawConnection c(port_);
  c.send("GET /items/1 HTTP/1.1\r\nHost: t\r\nX-Long: " + std::string(100'000, 'a') + "\r\n\r\n");
  const auto r = c.read_response();
  EXPECT_EQ(status_of(r), 431) << r;
  EXPECT_NE(r.find("4096 bytes"), std::string::npos) << r;
}

TEST_F(ServerTest, MoreHeaderFieldsThanTheLimitIs431) {
  http::Limits limits;
  limits.max_header_count = 10;
  start(limits);
  std::string request = "GET /items/1 HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 10; ++i) request += "X-" + std::to_string(i) + ": v\r\n";
  const auto r = exchange(request + "\r\n");
  EXPECT_EQ(status_of(r), 431) << r;
  EXPECT_NE(r.find("more than 10 header fields"), std::string::npos) << r;
  std::string nine = "GET /items/1 HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 9; ++i) nine += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(exchange(nine + "\r\n")), 200);
}

TEST_F(ServerTest, AClientSendingItsHeaderAByteAtATimeIsDroppedAtTheDeadline) {
  http::Limits limits;
  limits.header_timeout = 500ms;
  start(limits);
  RawConnection c(port_);
  const std::string request =
      "GET /items/1 HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(200, 'z') + "\r\n\r\n";
  // 100 ms a byte: the whole header would take 25 s; the server ends it long before.
  std::size_t sent = 0;
  for (; sent < request.size(); ++sent) {
    if (!c.send(request.substr(sent, 1))) break;
    if (c.readable(100ms)) break;
  }
  EXPECT_LT(sent, request.size());
  const auto r = c.read_until_close(5s);
  if (!r.empty()) {
    EXPECT_EQ(status_of(r), 408) << r;
  }
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitGet503WhileTheOthersStillWork) {
  http::Limits limits;
  limits.max_connections = 4;
  limits.keep_alive_timeout = 60s;  // the held connections stay open for the whole test
  start(limits);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawConnection>(port_));
    held.back()->send("GET /items/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(status_of(held.back()->read_response()), 200);  // each now open, kept alive
  }
  RawConnection extra(port_);
  extra.send("GET /items/9 HTTP/1.1\r\nHost: t\r\n\r\n");
  const auto r = extra.read_until_close();
  EXPECT_EQ(status_of(r), 503) << r;
  // The held ones still work.
  held[2]->send("GET /items/2 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(held[2]->read_response()), 200);
  // Once one closes, a new connection is served.
  held.pop_back();
  for (int attempt = 0; attempt < 50 && server_->connections() >= 4; ++attempt) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status_of(exchange("GET /items/5 HTTP/1.1\r\nHost: t\r\n\r\n")), 200);
}

TEST_F(ServerTest, OneAddressCannotTakeEveryConnectionButAnExemptOneCountsOnlyGlobally) {
  http::Limits limits;
  limits.max_connections = 8;
  limits.max_connections_per_address = 3;
  limits.keep_alive_timeout = 60s;  // the held connections stay open for the whole test
  start(limits, [](const std::string& peer) { return peer == "127.0.0.3"; });
  std::vector<std::unique_ptr<RawConnection>> held;
  // A connection from `from`: what it receives until the server closes it.
  const auto refusal_from = [&](const char* from) {
    held.push_back(std::make_unique<RawConnection>(port_, from));
    EXPECT_TRUE(held.back()->ok()) << from;
    held.back()->send("GET /items/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    return held.back()->read_until_close(5s);
  };
  // A connection from `from`, kept open: its first answer's status.
  const auto open_kept = [&](const char* from) {
    held.push_back(std::make_unique<RawConnection>(port_, from));
    EXPECT_TRUE(held.back()->ok()) << from;
    held.back()->send("GET /items/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    return status_of(held.back()->read_response());
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(open_kept("127.0.0.1"), 200) << i;
  // 127.0.0.1's next connection is refused; another address still gets in.
  const auto refused = refusal_from("127.0.0.1");
  held.pop_back();
  EXPECT_EQ(status_of(refused), 503) << refused;
  EXPECT_NE(body_of(refused).find("from 127.0.0.1 (limit 3)"), std::string::npos) << refused;
  EXPECT_EQ(open_kept("127.0.0.2"), 200);
  // The exempt address goes past the per-address cap, up to the global limit (3 + 1 + 4 = 8).
  for (int i = 0; i < 4; ++i) EXPECT_EQ(open_kept("127.0.0.3"), 200) << i;
  const auto global = refusal_from("127.0.0.3");
  held.pop_back();
  EXPECT_EQ(status_of(global), 503) << global;
  EXPECT_NE(body_of(global).find("(limit 8)"), std::string::npos) << global;
  // Once one of 127.0.0.1's connections closes, it may open another.
  held.erase(held.begin());
  for (int attempt = 0; attempt < 50 && server_->connections() >= 8; ++attempt) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(open_kept("127.0.0.1"), 200);
}

TEST_F(ServerTest, PreRoutingAnswersBeforeTheBodyIsReadAndPostRoutingSeesEveryAnswer) {
  http::Limits limits;
  limits.max_header_count = 5;
  server_ = nullptr;
  std::vector<std::string> seen;
  std::mutex mutex;
  auto s = std::make_unique<http::Server>(limits);
  s->set_pre_routing_handler([](const http::Request& req, http::Response& res) {
    if (req.path != "/denied") return http::Server::HandlerResponse::Unhandled;
    res.status = 403;
    res.set_content("no", "text/plain");
    return http::Server::HandlerResponse::Handled;
  });
  s->set_post_routing_handler([&](const http::Request& req, const http::Response& res) {
    std::lock_guard lock(mutex);
    seen.push_back(req.method + " " + req.path + " " + std::to_string(res.status));
  });
  s->Post("/denied", [](const http::Request&, http::Response&) { FAIL() << "not reached"; });
  port_ = *s->bind("127.0.0.1", 0);
  s->start();
  // The body is announced but never sent: the answer comes anyway.
  RawConnection c(port_);
  c.send("POST /denied HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_EQ(status_of(c.read_response()), 403);
  std::string many = "POST /denied HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 6; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(exchange(many + "\r\n")), 431);
  s->stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<std::string>{"POST /denied 403", "POST /denied 431"}));
}

TEST_F(ServerTest, StopEndsIdleAndStreamingConnectionsAndJoinsEveryThread) {
  start();
  RawConnection idle(port_);
  idle.send("GET /items/1 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(idle.read_response()), 200);
  RawConnection streaming(port_);
  streaming.send(
      "POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n");
  RawConnection silent(port_);
  for (int attempt = 0; attempt < 50 && server_->connections() < 3; ++attempt) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server_->connections(), 3u);
  server_->stop();
  EXPECT_EQ(server_->connections(), 0u);
  const auto r = streaming.read_until_close(2s);
  if (!r.empty()) {
    EXPECT_NE(r.find("4 cut"), std::string::npos) << r;
  }
}

}  // namespace
