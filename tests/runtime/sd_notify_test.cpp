// The systemd notify protocol against a datagram socket bound by the test, as systemd would.
#include "loa/runtime/sd_notify.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

using namespace loa::runtime;

namespace {

// A bound AF_UNIX datagram socket at a file path or an abstract name ("@..."); sets
// NOTIFY_SOCKET (and clears the watchdog variables) for the test's duration.
class FakeSystemd {
 public:
  explicit FakeSystemd(bool abstract) {
    std::random_device rd;
    const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(rd());
    name_ = abstract ? "@loa-notify-test-" + tag : "/tmp/loa-notify-test-" + tag + ".sock";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    if (abstract) addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    ::setenv("NOTIFY_SOCKET", name_.c_str(), 1);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  ~FakeSystemd() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" after `timeout_ms`.
  std::string receive(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return "";
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

}  // namespace

TEST(SdNotify, WithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  auto r = notify_systemd("READY=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(*r);
}

TEST(SdNotify, SendsToAPathSocket) {
  FakeSystemd systemd(false);
  ASSERT_TRUE(systemd.bound());
  auto r = notify_systemd("READY=1\nSTATUS=playing");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(*r);
  EXPECT_EQ(systemd.receive(), "READY=1\nSTATUS=playing");
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  FakeSystemd systemd(true);
  ASSERT_TRUE(systemd.bound());
  auto r = notify_systemd("STOPPING=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(systemd.receive(), "STOPPING=1");
}

TEST(SdNotify, UnreachableSocketIsAnError) {
  ::setenv("NOTIFY_SOCKET", "/tmp/loa-notify-test-nobody-listens.sock", 1);
  auto r = notify_systemd("READY=1");
  EXPECT_FALSE(r.ok());
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(notify_systemd("READY=1").ok());
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, WatchdogIntervalHonoursPid) {
  ::setenv("WATCHDOG_USEC", "4000000", 1);
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(systemd_watchdog_interval(), std::chrono::seconds(4));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(systemd_watchdog_interval(), std::chrono::seconds(4));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(systemd_watchdog_interval().count(), 0);
  ::setenv("WATCHDOG_USEC", "soon", 1);
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(systemd_watchdog_interval().count(), 0);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(systemd_watchdog_interval().count(), 0);
}

TEST(SdNotify, FeederPingsAtMostEveryQuarterInterval) {
  FakeSystemd systemd(true);
  ASSERT_TRUE(systemd.bound());
  ::setenv("WATCHDOG_USEC", "400000", 1);  // 0.4 s: a ping at most every 0.1 s
  WatchdogFeeder feeder;
  ASSERT_TRUE(feeder.enabled());
  feeder.feed();
  EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
  feeder.feed();  // too soon: nothing
  EXPECT_EQ(systemd.receive(50), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  feeder.feed();
  EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
}
