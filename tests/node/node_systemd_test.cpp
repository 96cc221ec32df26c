// The loa-node daemon as installed: under a stand-in for systemd (a datagram socket in
// $NOTIFY_SOCKET and a watchdog in $WATCHDOG_USEC) it must say READY=1, keep pinging WATCHDOG=1
// and say STOPPING=1 on SIGTERM; and with the node.conf of a provisioned bundle it must reach a
// production-configured broker (TLS, password, ACL) and take its area's plan.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "loa/controller/provision.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/topics.hpp"
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

TEST(NodeDaemonTest, ProvisionedBundleWorksOverTlsWithItsCredential) {
  loa::node::test::TempDir dir;
  ::chmod(dir.path().c_str(), 0755);  // the broker may read its files as its own user
  std::string why;
  auto pki = loa::test::make_test_pki(dir.path(), why);
  if (!pki) GTEST_SKIP() << "no TLS material for the test broker: " << why;

  loa::runtime::SystemClock clock;
  const loa::protocol::KeyPair controller_key = loa::protocol::KeyPair::generate();
  namespace ctl = loa::controller;
  ctl::BundleRequest req;
  req.node_id = "n5";
  req.area = *loa::protocol::AreaPath::parse("79/26734/03");
  req.out_dir = dir.file("bundles");
  req.broker_url = "mqtts://broker.example:8883";
  req.broker_ca_file = pki->ca_file;
  req.broker_password = ctl::random_broker_password();
  req.controller_key = controller_key.public_key;
  auto bundle = ctl::write_node_bundle(req);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;

  const std::string passwd = dir.file("loa.passwd");
  const std::string acl = dir.file("loa.acl");
  std::ofstream(acl) << ctl::controller_acl_block() << "\n";
  ASSERT_TRUE(ctl::set_node_acl(acl, "n5", ctl::node_acl_block("n5", req.area)).ok());
  ASSERT_TRUE(ctl::set_password_line(passwd, "loa-controller",
                                     ctl::mosquitto_password_line("loa-controller", "c-pw"))
                  .ok());
  ASSERT_TRUE(
      ctl::set_password_line(passwd, "n5", ctl::mosquitto_password_line("n5", req.broker_password))
          .ok());
  ::chmod(passwd.c_str(), 0644);
  ::chmod(acl.c_str(), 0644);
  loa::test::MosquittoBroker broker(loa::test::SecureBrokerConfig{
      *pki, passwd, acl,
      std::string(LOA_SOURCE_DIR) + "/firmware-config/mosquitto/mosquitto.conf"});

  loa::runtime::BusConfig cc;
  cc.url = broker.url();
  cc.client_id = "loa-controller";
  cc.username = "loa-controller";
  cc.password = "c-pw";
  cc.ca_file = pki->ca_file;
  cc.reconnect_min_ms = 100;
  cc.reconnect_max_ms = 500;
  // FakeController with the controller's key pair: seal with it explicitly.
  loa::node::test::FakeController controller(loa::runtime::make_mosquitto_bus(cc), clock);
  controller.trust(bundle->node_public_key);

  // The bundle's node.conf as installed; only the paths under /etc and /var and the broker's
  // address differ here (the command line wins over the file).
  const std::string bdir = bundle->dir;
  loa::test::Process node(
      {LOA_NODE_BIN, "--config", bdir + "/node.conf", "--broker", broker.url(), "--broker-ca-file",
       pki->ca_file, "--controller-key", bdir + "/controller.pub", "--key", bdir + "/node.key",
       "--cache", dir.file("cache"), "--sink", "null"},
      dir.file("node.log"));
  ASSERT_TRUE(loa::node::test::wait_for([&] { return !controller.hellos().empty(); }, 15000))
      << node.log() << broker.log();
  EXPECT_EQ(controller.hellos()[0].node_id, "n5");
  EXPECT_EQ(controller.unverified(), 0u);  // signed with the bundle's key

  const loa::protocol::Micros start = clock.now_us() + 600'000'000;
  controller.publish_plan(loa::protocol::Plan{"area:79/26734",
                                              3,
                                              {{21, 5, start, start + 60'000'000,
                                                loa::protocol::Priority::normal, 100}}},
                          &controller_key);
  // A ping (signed by the controller key the bundle holds) brings a status with the plan.
  ASSERT_TRUE(loa::node::test::wait_for(
      [&] {
        controller.publish(loa::protocol::topics::node_control("n5"),
                           controller.seal(loa::protocol::MessageType::control,
                                           loa::protocol::encode(loa::protocol::Control{
                                               loa::protocol::ControlCommand::ping, 1, "node:n5"}),
                                           &controller_key));
        return loa::node::test::wait_for(
            [&] {
              const auto s = controller.statuses();
              return !s.empty() && s.back().plan_version == 3;
            },
            500);
      },
      15000))
      << node.log();
  EXPECT_EQ(node.stop(SIGTERM), 0) << node.log();
}

}  // namespace
