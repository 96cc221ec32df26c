#include "controller_fixture.hpp"

#include <unistd.h>

#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"

namespace loa::test {

namespace {

controller::Micros test_start() {
  auto t = controller::parse_utc("2026-11-01T00:00:00Z");
  return t.ok() ? *t : 0;
}

}  // namespace

ControllerFixture::ControllerFixture() : clock_(test_start()) {}

void ControllerFixture::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = std::filesystem::temp_directory_path() /
         ("loa-" + std::string(info->test_suite_name()) + "-" + std::to_string(::getpid()) + "-" +
          info->name());
  std::filesystem::remove_all(dir_);
  auto store = controller::open_sqlite_store(":memory:");
  ASSERT_TRUE(store.ok()) << store.error().message;
  store_ = std::move(*store);
  probe_bus_ = hub_.connect("probe");
  probe_.attach(*probe_bus_);
  ASSERT_TRUE(probe_bus_->start().ok());
  ASSERT_TRUE(probe_bus_->subscribe("loa/v1/#").ok());
  bus_ = hub_.connect("controller");
  keys_ = protocol::KeyPair::generate();
  start_controller();
  ASSERT_TRUE(bus_->start().ok());
  idle();
}

void ControllerFixture::TearDown() {
  if (bus_) bus_->stop(0);
  if (probe_bus_) probe_bus_->stop(0);
  controller_.reset();
  std::filesystem::remove_all(dir_);
}

controller::ControllerSettings ControllerFixture::settings() const {
  controller::ControllerSettings s;
  s.audio_dir = dir_.string();
  s.missed_grace_us = 60'000'000;
  s.fetch_window_ms = 0;
  return s;
}

void ControllerFixture::start_controller() {
  controller_ = std::make_unique<controller::Controller>(*store_, *bus_, clock_, keys_, settings());
  ASSERT_TRUE(controller_->attach().ok());
}

void ControllerFixture::add_node(const std::string& id, const std::string& area,
                                 std::int64_t residents, const protocol::KeyPair* keys) {
  controller::NodeInput in;
  in.id = id;
  in.area = area;
  in.residents = residents;
  if (keys) in.public_key_hex = runtime::to_hex(protocol::ByteView(keys->public_key));
  auto r = controller_->add_node(in);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

std::uint64_t ControllerFixture::make_bulletin(double seconds) {
  auto b = controller_->create_bulletin_from_audio("Thông báo", tone_wav(seconds));
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? b->id : 0;
}

controller::ScheduleRequest ControllerFixture::request(std::uint64_t bulletin,
                                                       std::vector<std::string> targets,
                                                       const std::string& at) {
  controller::ScheduleRequest r;
  r.bulletin_id = bulletin;
  r.at = at;
  r.targets = std::move(targets);
  return r;
}

controller::OccurrenceRecord ControllerFixture::schedule(std::uint64_t bulletin,
                                                         std::vector<std::string> targets,
                                                         const std::string& at) {
  auto o = controller_->schedule(request(bulletin, std::move(targets), at));
  EXPECT_TRUE(o.ok()) << o.error().message;
  idle();
  return o.ok() ? *o : controller::OccurrenceRecord{};
}

std::vector<std::uint64_t> ControllerFixture::plan_ids(const std::string& topic) {
  const auto msgs = probe_.on(topic);
  if (msgs.empty()) return {};
  auto body = open_body(msgs.back().payload, keys_.public_key, protocol::MessageType::plan);
  if (!body) return {};
  auto plan = protocol::decode_plan(*body);
  if (!plan) return {};
  std::vector<std::uint64_t> ids;
  for (const auto& o : plan->occurrences) ids.push_back(o.occurrence_id);
  return ids;
}

std::uint64_t ControllerFixture::last_receipt(TestNode& node) {
  auto receipts = node.received().on(protocol::topics::node_receipt(node.id()));
  if (receipts.empty()) return 0;
  auto body = open_body(receipts.back().payload, keys_.public_key, protocol::MessageType::receipt);
  if (!body) return 0;
  auto r = protocol::decode_receipt(*body);
  return r ? r->recorded_through : 0;
}

}  // namespace loa::test
