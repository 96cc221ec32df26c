// loa-node under a stand-in for systemd: a datagram socket in $NOTIFY_SOCKET and a watchdog in
// $WATCHDOG_USEC. The daemon must say READY=1, keep pinging WATCHDOG=1, and say STOPPING=1 on
// SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "loa/protocol/envelope.hpp"
#include "loa/runtime/keys.hpp"
#include "mosquitto_broker.hpp"
#include "node_test_support.hpp"
#include "process.hpp"

namespace {

// Datagrams received within `timeout_ms`, until one contains `until` (or time runs out).
std::string receive_until(int fd, const std::string& until, int timeout_ms) {
  std::string all;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) all += std::string(buf, static_cast<std::size_t>(n)) + "\n";
    if (all.find(until) != std::string::npos) break;
  }
  return all;
}

TEST(NodeSystemdTest, NotifiesReadyWatchdogAndStopping) {
  loa::test::MosquittoBroker broker;
  loa::node::test::TempDir dir;
  const std::string socket_path = dir.file("notify.sock");
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  const std::string controller_key = dir.file("controller.pub");
  ASSERT_TRUE(
      loa::runtime::write_public_key(controller_key, loa::protocol::KeyPair::generate().public_key)
          .ok());
  ::setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "800000", 1);  // pings expected at least every 0.8 s
  ::unsetenv("WATCHDOG_PID");
  loa::test::Process node(
      {LOA_NODE_BIN, "--id", "n1", "--area", "79/26734/03", "--broker", broker.url(), "--cache",
       dir.file("cache"), "--controller-key", controller_key, "--sink", "null"},
      dir.file("node.log"));
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  const std::string start = receive_until(fd, "READY=1", 10000);
  ASSERT_NE(start.find("READY=1"), std::string::npos) << start << node.log();
  // At least three pings in 1.5 s: the housekeeping loop feeds the watchdog.
  const std::string pings = receive_until(fd, "never", 1500);
  std::size_t count = 0;
  for (auto at = pings.find("WATCHDOG=1"); at != std::string::npos;
       at = pings.find("WATCHDOG=1", at + 1)) {
    ++count;
  }
  EXPECT_GE(count, 3u) << pings;
  EXPECT_LE(count, 10u) << pings;  // paced at a quarter of the interval, not every loop pass

  const int status = node.stop(SIGTERM);
  const std::string end = receive_until(fd, "STOPPING=1", 2000);
  EXPECT_NE(end.find("STOPPING=1"), std::string::npos) << end;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << node.log();
  ::close(fd);
}

}  // namespace
