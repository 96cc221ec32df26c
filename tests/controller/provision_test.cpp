// Node provisioning: the Mosquitto password hash, ACL blocks, broker file edits, the bundle, and
// `loactl node provision` / `node decommission --password-file --acl-file` against a live API.
#include "loa/controller/provision.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loa/controller/api_server.hpp"
#include "loa/controller/cli.hpp"
#include "loa/controller/config.hpp"
#include "loa/controller/controller.hpp"
#include "loa/node/config.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/options.hpp"

using namespace loa;
using namespace loa::controller;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

class ProvisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("loa-provision-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ProvisionTest, PasswordLineMatchesMosquittoPasswd) {
  // Written by `mosquitto_passwd -b passwd ctl c1` (mosquitto 2.0.11).
  const std::string expected =
      "ctl:$7$101$xWgsP6JttqbSeRda$dOoUxh9Ug3w6GQ8+b1kPqTWi1rvSQ+TVarKRfGjxUD7+bN0Tqq6/"
      "7FUrwm5p5DJGBLWQ/6V8vR8+d0MUX61Wuw==";
  const auto salt = std::vector<std::uint8_t>{0xc5, 0x68, 0x2c, 0x3f, 0xa2, 0x6d,
                                              0xb6, 0xa6, 0xd2, 0x79, 0x17, 0x5a};
  EXPECT_EQ(mosquitto_password_line("ctl", "c1", salt), expected);
  EXPECT_NE(mosquitto_password_line("ctl", "c2", salt), expected);
  // Random salts: two hashes of one password differ.
  EXPECT_NE(mosquitto_password_line("a", "p"), mosquitto_password_line("a", "p"));
  EXPECT_EQ(random_broker_password().size(), 32u);
}

TEST_F(ProvisionTest, NodeAclCoversEveryAncestorAreaAndOnlyItsOwnUpTopics) {
  const std::string acl = node_acl_block("n7", *protocol::AreaPath::parse("79/26734/03"));
  for (const char* line :
       {"user n7\n", "topic read loa/v1/node/n7/down/#\n", "topic read loa/v1/plan/79\n",
        "topic read loa/v1/control/79\n", "topic read loa/v1/plan/79/26734\n",
        "topic read loa/v1/control/79/26734\n", "topic read loa/v1/plan/79/26734/03\n",
        "topic read loa/v1/control/79/26734/03\n", "topic read loa/v1/bulletin/+/manifest\n",
        "topic read loa/v1/bulletin/+/chunk\n", "topic read loa/v1/live/+\n",
        "topic write loa/v1/node/n7/up/hello\n", "topic write loa/v1/node/n7/up/event\n",
        "topic write loa/v1/node/n7/up/status\n", "topic write loa/v1/node/n7/up/fetch\n",
        "topic write loa/v1/node/n7/up/report\n"}) {
    EXPECT_NE(acl.find(line), std::string::npos) << line;
  }
  // No wildcard in what it may write: no topics of its own making (each could keep a retained
  // message in the broker).
  EXPECT_EQ(acl.find("up/#"), std::string::npos);
  EXPECT_EQ(acl.find("up/+"), std::string::npos);
  EXPECT_EQ(acl.find("readwrite"), std::string::npos);
  EXPECT_EQ(acl.find("topic write loa/v1/plan"), std::string::npos);
  // The shipped template's controller block is the generated one.
  const std::string shipped =
      slurp(std::string(LOA_SOURCE_DIR) + "/firmware-config/mosquitto/loa.acl");
  EXPECT_NE(shipped.find(controller_acl_block()), std::string::npos) << controller_acl_block();
}

TEST_F(ProvisionTest, BrokerFilesAreEditedInPlace) {
  const std::string passwd = (dir_ / "passwd").string();
  const std::string acl = (dir_ / "acl").string();
  std::ofstream(acl) << controller_acl_block() << "\n";
  ASSERT_TRUE(set_password_line(passwd, "a", "a:hash1").ok());
  ASSERT_TRUE(set_password_line(passwd, "b", "b:hash2").ok());
  ASSERT_TRUE(set_password_line(passwd, "a", "a:hash3").ok());
  EXPECT_EQ(slurp(passwd), "b:hash2\na:hash3\n");
  EXPECT_EQ(mode_of(passwd), 0640u);
  // Mode and group of an existing file survive the rewrite (the broker reads it by group).
  ::chmod(passwd.c_str(), 0604);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(passwd.c_str(), 0, 1), 0);
  }
  ASSERT_TRUE(set_password_line(passwd, "b", "b:hash2").ok());
  EXPECT_EQ(mode_of(passwd), 0604u);
  if (root) {
    struct stat st {};
    ::stat(passwd.c_str(), &st);
    EXPECT_EQ(st.st_gid, 1u);
  }
  ASSERT_TRUE(set_password_line(passwd, "a", "a:hash3").ok());
  auto removed = remove_password_user(passwd, "b");
  ASSERT_TRUE(removed.ok() && *removed);
  removed = remove_password_user(passwd, "b");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  EXPECT_EQ(slurp(passwd), "a:hash3\n");
  EXPECT_FALSE(remove_password_user((dir_ / "none").string(), "a").ok());

  const auto area = *protocol::AreaPath::parse("79/1");
  ASSERT_TRUE(set_node_acl(acl, "a", node_acl_block("a", area)).ok());
  ASSERT_TRUE(set_node_acl(acl, "ab", node_acl_block("ab", area)).ok());
  ASSERT_TRUE(set_node_acl(acl, "a", node_acl_block("a", area)).ok());  // replaced, not doubled
  std::string text = slurp(acl);
  EXPECT_EQ(text.find("user a\n"), text.rfind("user a\n"));
  auto gone = remove_node_acl(acl, "a");
  ASSERT_TRUE(gone.ok() && *gone);
  text = slurp(acl);
  EXPECT_EQ(text.find("user a\n"), std::string::npos);
  EXPECT_NE(text.find("user ab\n"), std::string::npos);
  EXPECT_NE(text.find(controller_acl_block()), std::string::npos);
}

TEST_F(ProvisionTest, BundleHoldsKeysConfigAndInstaller) {
  const std::string ca = (dir_ / "ca.pem").string();
  std::ofstream(ca) << "CA\n";
  BundleRequest r;
  r.node_id = "n9";
  r.area = *protocol::AreaPath::parse("79/26734/03");
  r.out_dir = (dir_ / "out").string();
  r.broker_url = "mqtts://broker.example:8883";
  r.broker_ca_file = ca;
  r.broker_password = "pw";
  r.controller_key = protocol::KeyPair::generate().public_key;
  auto b = write_node_bundle(r);
  ASSERT_TRUE(b.ok()) << b.error().message;
  const fs::path d(b->dir);
  EXPECT_EQ(mode_of(d / "node.key"), 0600u);
  EXPECT_EQ(mode_of(d / "node.conf"), 0600u);
  EXPECT_EQ(mode_of(d / "install.sh"), 0755u);
  EXPECT_EQ(slurp(d / "broker-ca.pem"), "CA\n");
  auto pub = runtime::load_public_key((d / "node.pub").string());
  ASSERT_TRUE(pub.ok());
  auto pair = runtime::load_or_create_key_pair((d / "node.key").string());
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(*pub, pair->public_key);
  EXPECT_EQ(b->node_public_key, pair->public_key);
  auto ctl = runtime::load_public_key((d / "controller.pub").string());
  ASSERT_TRUE(ctl.ok());
  EXPECT_EQ(*ctl, r.controller_key);

  // node.conf holds only real loa-node keys (an unknown key makes the parser throw).
  node::NodeOptions o;
  runtime::po::options_description desc;
  node::add_node_options(desc, o);
  std::ifstream in(d / "node.conf");
  runtime::po::variables_map vm;
  runtime::po::store(runtime::po::parse_config_file(in, desc), vm);
  runtime::po::notify(vm);
  EXPECT_EQ(o.id, "n9");
  EXPECT_EQ(o.area, "79/26734/03");
  EXPECT_EQ(o.broker, "mqtts://broker.example:8883");
  EXPECT_EQ(o.broker_username, "n9");
  EXPECT_EQ(o.broker_password, "pw");
  EXPECT_EQ(o.broker_ca_file, "/etc/loa/broker-ca.pem");
  EXPECT_EQ(o.controller_key, std::vector<std::string>{"/etc/loa/controller.pub"});

  ASSERT_TRUE(make_bundle_archive(*b).ok());
  EXPECT_TRUE(fs::exists(b->archive));
  // A second bundle for the same node would overwrite the first: refused.
  EXPECT_FALSE(write_node_bundle(r).ok());
  r.node_id = "bad id";
  EXPECT_FALSE(write_node_bundle(r).ok());
}

TEST(ControllerConfigFile, EveryKeyIsInTheShippedConfigFile) {
  ControllerConfig config;
  const auto desc = controller_options(config);
  const std::string text = slurp(std::string(LOA_SOURCE_DIR) + "/firmware-config/controller.conf");
  for (const auto& opt : desc.options()) {
    if (opt->long_name() == "print-public-key") continue;  // a command, not a setting
    EXPECT_NE(text.find("#" + opt->long_name() + " ="), std::string::npos) << opt->long_name();
  }
  // The broker's settings are checked with the bad key named.
  config.broker = "mqtts://broker.example:8883";
  const loa::Status s = runtime::validate_bus_config(controller_bus_config(config));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'broker-ca-file'"), std::string::npos) << s.message();
}

class ProvisionCliTest : public ProvisionTest {
 protected:
  void SetUp() override {
    ProvisionTest::SetUp();
    auto store = open_sqlite_store(":memory:");
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    bus_ = hub_.connect("controller");
    ControllerSettings settings;
    settings.audio_dir = (dir_ / "audio").string();
    controller_ = std::make_unique<Controller>(*store_, *bus_, clock_, key_, settings);
    ASSERT_TRUE(controller_->attach().ok());
    ASSERT_TRUE(bus_->start().ok());
    server_ = std::make_unique<ApiServer>(*controller_, 1024 * 1024);
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    server_->start();
    url_ = "http://127.0.0.1:" + std::to_string(*port);
    std::ofstream(dir_ / "ca.pem") << "CA\n";
  }
  void TearDown() override {
    server_->stop();
    bus_->stop(0);
    server_.reset();
    controller_.reset();
    ProvisionTest::TearDown();
  }
  int loactl(std::vector<std::string> args, std::string* out_text = nullptr) {
    args.insert(args.begin(), {"--controller", url_});
    std::ostringstream out, err;
    const int code = run_loactl(args, out, err);
    if (out_text) *out_text = out.str() + err.str();
    return code;
  }
  std::vector<std::string> provision(const std::string& id) {
    return {"node",
            "provision",
            id,
            "--area",
            "79/26734/03",
            "--broker",
            "mqtts://broker.example:8883",
            "--broker-ca",
            (dir_ / "ca.pem").string(),
            "--password-file",
            (dir_ / "loa.passwd").string(),
            "--acl-file",
            (dir_ / "loa.acl").string(),
            "--out",
            (dir_ / "bundles").string(),
            "--residents",
            "1200",
            "--format",
            "json"};
  }

  runtime::MemoryHub hub_;
  std::unique_ptr<runtime::Bus> bus_;
  std::unique_ptr<Store> store_;
  runtime::SystemClock clock_;
  protocol::KeyPair key_ = protocol::KeyPair::generate();
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  std::string url_;
};

TEST_F(ProvisionCliTest, ProvisionRegistersAndWritesBrokerFilesAndBundle) {
  std::string out;
  ASSERT_EQ(loactl(provision("n1"), &out), 0) << out;
  const auto j = nlohmann::json::parse(out.substr(0, out.rfind('}') + 1));
  EXPECT_EQ(j["archive"], (dir_ / "bundles" / "n1.tar.gz").string());
  const fs::path bundle = dir_ / "bundles" / "n1";
  auto pub = runtime::load_public_key((bundle / "node.pub").string());
  ASSERT_TRUE(pub.ok());
  auto ctl = runtime::load_public_key((bundle / "controller.pub").string());
  ASSERT_TRUE(ctl.ok());
  EXPECT_EQ(*ctl, key_.public_key);  // fetched from the controller's API

  auto node = controller_->get_node("n1");
  ASSERT_TRUE(node.ok());
  ASSERT_TRUE(node->record.public_key.has_value());
  EXPECT_EQ(*node->record.public_key, *pub);
  EXPECT_EQ(node->record.residents, 1200);

  // The password file holds a hash of node.conf's password, not the password.
  std::string password;
  std::ifstream conf(bundle / "node.conf");
  for (std::string line; std::getline(conf, line);) {
    if (line.rfind("broker-password = ", 0) == 0) password = line.substr(18);
  }
  ASSERT_EQ(password.size(), 32u);
  const std::string passwd = slurp(dir_ / "loa.passwd");
  EXPECT_EQ(passwd.rfind("n1:$7$101$", 0), 0u);
  EXPECT_EQ(passwd.find(password), std::string::npos);
  EXPECT_NE(slurp(dir_ / "loa.acl").find("topic write loa/v1/node/n1/up/event\n"),
            std::string::npos);

  // Provisioning the same id again is refused by the controller; nothing is overwritten.
  EXPECT_NE(loactl(provision("n1"), &out), 0);
  EXPECT_EQ(slurp(dir_ / "loa.passwd"), passwd);

  // Decommissioning with the broker files revokes the credential and the ACL block.
  ASSERT_EQ(loactl({"node", "decommission", "n1", "--password-file", (dir_ / "loa.passwd").string(),
                    "--acl-file", (dir_ / "loa.acl").string()},
                   &out),
            0)
      << out;
  EXPECT_EQ(slurp(dir_ / "loa.passwd").find("n1:"), std::string::npos);
  EXPECT_EQ(slurp(dir_ / "loa.acl").find("user n1"), std::string::npos);
  EXPECT_NE(out.find("credential of 'n1' removed"), std::string::npos) << out;
}

TEST_F(ProvisionCliTest, BadOptionsNameTheOption) {
  std::string out;
  auto args = provision("n2");
  args[6] = "mqtts://broker.example:8883";
  args[8] = (dir_ / "missing.pem").string();
  EXPECT_EQ(loactl(args, &out), 2);
  EXPECT_NE(out.find("--broker-ca"), std::string::npos) << out;
  args = provision("n2");
  args[4] = "79//03";
  EXPECT_EQ(loactl(args, &out), 2);
  EXPECT_NE(out.find("--area"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ / "bundles" / "n2"));
  EXPECT_FALSE(controller_->get_node("n2").ok());
}

}  // namespace
