#include "loa/node/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "loa/runtime/keys.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

NodeOptions valid() {
  NodeOptions o;
  o.id = "n1";
  o.area = "79/26734/03";
  o.controller_key = {"/nonexistent"};
  return o;
}

void expect_bad(NodeOptions o, const std::string& key) {
  const loa::Status s = validate(o);
  ASSERT_FALSE(s.ok()) << key;
  EXPECT_NE(s.message().find("'" + key + "'"), std::string::npos) << s.message();
}

TEST(NodeConfigTest, ValidationNamesTheBadKey) {
  EXPECT_TRUE(validate(valid()).ok());
  NodeOptions o = valid();
  o.id = "bad id";
  expect_bad(o, "id");
  o = valid();
  o.area = "79//03";
  expect_bad(o, "area");
  o = valid();
  o.broker = "http://x";
  expect_bad(o, "broker");
  o = valid();
  o.sink = "speaker";
  expect_bad(o, "sink");
  o = valid();
  o.controller_key.clear();
  expect_bad(o, "controller-key");
  o = valid();
  o.volume = 101;
  expect_bad(o, "volume");
  o = valid();
  o.emergency_volume = 0;  // an emergency must sound
  expect_bad(o, "emergency-volume");
  o = valid();
  o.output_latency_ms = -1;
  expect_bad(o, "output-latency-ms");
  o = valid();
  o.status_interval = 0;
  expect_bad(o, "status-interval");
  o = valid();
  o.fetch_timeout_ms = 5;
  expect_bad(o, "fetch-timeout-ms");
  o = valid();
  o.log_level = "loud";
  expect_bad(o, "log-level");
}

TEST(NodeConfigTest, LoadsKeysAndCreatesTheNodeKeyOnce) {
  test::TempDir dir;
  NodeOptions o = valid();
  o.cache = dir.file("cache");
  auto missing = load_node_config(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("'controller-key'"), std::string::npos);

  const auto controller = protocol::KeyPair::generate();
  o.controller_key = {dir.file("controller.pub")};
  ASSERT_TRUE(runtime::write_public_key(o.controller_key[0], controller.public_key).ok());
  o.volume = 70;
  o.fetch_timeout_ms = 1500;
  auto first = load_node_config(o);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->controller_keys, protocol::KeySet(controller.public_key));
  EXPECT_EQ(first->volume, 70);
  EXPECT_EQ(first->fetch_timeout_us, 1'500'000);
  EXPECT_EQ(first->area.str(), "79/26734/03");
  EXPECT_TRUE(std::filesystem::exists(dir.file("cache/node.key")));
  auto second = load_node_config(o);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->key.public_key, first->key.public_key);
}

// Key rotation: every `controller-key` value is a file or a directory of *.pub files, and the
// node trusts all of them.
TEST(NodeConfigTest, SeveralControllerKeysFromFilesAndADirectory) {
  test::TempDir dir;
  const auto old_key = protocol::KeyPair::generate();
  const auto new_key = protocol::KeyPair::generate();
  const auto third = protocol::KeyPair::generate();
  std::filesystem::create_directories(dir.file("keys"));
  ASSERT_TRUE(runtime::write_public_key(dir.file("keys/old.pub"), old_key.public_key).ok());
  ASSERT_TRUE(runtime::write_public_key(dir.file("keys/new.pub"), new_key.public_key).ok());
  std::ofstream(dir.file("keys/README")) << "not a key\n";
  ASSERT_TRUE(runtime::write_public_key(dir.file("third.pub"), third.public_key).ok());

  auto keys = load_controller_keys({dir.file("keys"), dir.file("third.pub")});
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->size(), 3u);
  for (const auto& k : {old_key, new_key, third}) EXPECT_TRUE(keys->contains(k.public_key));

  NodeOptions o = valid();
  o.cache = dir.file("cache");
  o.controller_key = {dir.file("keys")};
  auto config = load_node_config(o);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->controller_keys, protocol::KeySet({new_key.public_key, old_key.public_key}));

  std::filesystem::create_directories(dir.file("empty"));
  auto empty = load_controller_keys({dir.file("empty")});
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, ::testing::HasSubstr("without any *.pub key file"));
  auto broken = load_controller_keys({dir.file("keys/README")});
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().message, ::testing::HasSubstr("README"));
}

TEST(NodeConfigTest, BrokerSecurityKeysAreChecked) {
  test::TempDir dir;
  const std::string ca = dir.file("ca.pem");
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  NodeOptions o = valid();
  o.broker = "mqtts://broker.example:8883";
  expect_bad(o, "broker-ca-file");  // TLS without a CA to check the broker against
  o.broker_ca_file = dir.file("missing.pem");
  expect_bad(o, "broker-ca-file");
  o.broker_ca_file = ca;
  EXPECT_TRUE(validate(o).ok()) << validate(o).message();
  o.broker_cert_file = ca;
  expect_bad(o, "broker-key-file");  // a client certificate without its key
  o.broker_key_file = ca;
  EXPECT_TRUE(validate(o).ok());
  o.broker_tls_version = "tlsv1.0";
  expect_bad(o, "broker-tls-version");
  o.broker_tls_version = "tlsv1.3";
  o.broker_password = "secret";
  expect_bad(o, "broker-password");  // a password without a user
  o.broker_username = "n1";
  EXPECT_TRUE(validate(o).ok());
  o.broker = "mqtt://broker.example:1883";
  expect_bad(o, "broker-ca-file");  // TLS files that a plain connection would ignore
  const runtime::BusConfig bus = node_bus_config(valid());
  EXPECT_EQ(bus.client_id, "n1");  // = its broker user name, as provisioned
}

TEST(NodeConfigTest, EveryOptionIsInTheShippedConfigFile) {
  NodeOptions o;
  runtime::po::options_description desc;
  add_node_options(desc, o);
  std::ifstream in(std::string(LOA_SOURCE_DIR) + "/firmware-config/node.conf");
  ASSERT_TRUE(in.good());
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  for (const auto& opt : desc.options()) {
    EXPECT_NE(text.find("#" + opt->long_name() + " ="), std::string::npos) << opt->long_name();
  }
}

TEST(SinkSpecTest, ParsesTheForms) {
  EXPECT_EQ(parse_sink_spec("null")->kind, SinkSpec::Kind::null);
  auto wav = parse_sink_spec("wav:/tmp/x y");
  ASSERT_TRUE(wav.ok());
  EXPECT_EQ(wav->kind, SinkSpec::Kind::wav);
  EXPECT_EQ(wav->argument, "/tmp/x y");
  auto pa = parse_sink_spec("portaudio:USB Audio: #1");
  ASSERT_TRUE(pa.ok());
  EXPECT_EQ(pa->kind, SinkSpec::Kind::portaudio);
  EXPECT_EQ(pa->argument, "USB Audio: #1");
  EXPECT_TRUE(parse_sink_spec("portaudio")->argument.empty());
  EXPECT_FALSE(parse_sink_spec("wav:").ok());
  EXPECT_FALSE(parse_sink_spec("null:x").ok());
  EXPECT_FALSE(parse_sink_spec("alsa").ok());
}

TEST(WavSinkTest, WritesAPacedWavFile) {
  test::TempDir dir;
  runtime::SystemClock clock;
  auto factory = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, dir.file("out")}, clock);
  ASSERT_TRUE(factory.ok());
  auto sink = (*factory)(77);
  ASSERT_TRUE(sink->open(48000, 1).ok());
  std::vector<std::int16_t> samples(4800);
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<std::int16_t>(i * 7);
  const auto t0 = clock.now_us();
  ASSERT_TRUE(sink->write(samples).ok());
  ASSERT_TRUE(sink->write(samples).ok());
  EXPECT_GE(clock.now_us() - t0, 195'000);  // 9600 samples = 200 ms, paced
  sink->close();
  const test::Wav w = test::read_wav(dir.file("out/77.wav"));
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.rate, 48000u);
  ASSERT_EQ(w.samples.size(), 9600u);
  EXPECT_EQ(w.samples[4801], samples[1]);
}

}  // namespace
}  // namespace loa::node
