// Forged playback events over a real Mosquitto on a free port: wrong key, unknown node,
// untargeted occurrence, duplicated with another outcome, altered after signing. None counts;
// each is refused with its reason; the genuine event and its resend count once.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "mosquitto_broker.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;

namespace {

constexpr Micros kSecond = 1'000'000;

template <typename Fn>
bool wait_for(Fn&& done, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A node's side of the broker: publishes sealed envelopes on its event topic.
class BrokerNode {
 public:
  BrokerNode(const std::string& url, std::string id)
      : id_(std::move(id)),
        keys_(protocol::KeyPair::generate()),
        bus_(runtime::make_mosquitto_bus(test::broker_bus_config(url, "node-" + id_))) {}
  bool start() {
    return bus_->start().ok() && wait_for([&] { return bus_->connected(); });
  }
  void stop() { bus_->stop(1000); }
  const std::string& id() const { return id_; }
  const protocol::KeyPair& keys() const { return keys_; }
  protocol::Bytes seal(const protocol::PlaybackEvent& e,
                       const protocol::KeyPair* signer = nullptr) {
    return protocol::seal(protocol::MessageType::playback_event, signer ? *signer : keys_,
                          protocol::Micros{0}, ++sequence_, protocol::encode(e));
  }
  void publish(const protocol::Bytes& envelope) {
    ASSERT_TRUE(bus_->publish(protocol::topics::node_up(id_, protocol::topics::UpKind::event),
                              envelope, false)
                    .ok());
  }

 private:
  std::string id_;
  protocol::KeyPair keys_;
  std::unique_ptr<runtime::Bus> bus_;
  std::uint64_t sequence_ = 0;
};

TEST(LedgerBrokerTest, ForgedEventsAreRefusedWithTheirReasonAndNotCounted) {
  test::MosquittoBroker broker;
  const auto dir =
      std::filesystem::temp_directory_path() / ("loa-ledger-broker-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = open_sqlite_store(":memory:");
  ASSERT_TRUE(store.ok());
  runtime::ManualClock clock(*parse_utc("2026-11-01T00:00:00Z"));
  auto bus = runtime::make_mosquitto_bus(test::broker_bus_config(broker.url(), "loa-controller"));
  ControllerSettings settings;
  settings.audio_dir = dir.string();
  settings.fetch_window_ms = 0;
  Controller controller(**store, *bus, clock, protocol::KeyPair::generate(), settings);
  ASSERT_TRUE(controller.attach().ok());
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(wait_for([&] { return bus->connected(); }));

  BrokerNode n1(broker.url(), "n1");
  BrokerNode n2(broker.url(), "n2");
  BrokerNode ghost(broker.url(), "ghost");
  for (auto* n : {&n1, &n2}) {
    NodeInput in;
    in.id = n->id();
    in.area = n == &n1 ? "79/26734/01" : "79/26737/01";
    in.residents = 500;
    in.public_key_hex = runtime::to_hex(protocol::ByteView(n->keys().public_key));
    ASSERT_TRUE(controller.add_node(in).ok());
  }
  for (auto* n : {&n1, &n2, &ghost}) ASSERT_TRUE(n->start());
  auto bulletin = controller.create_bulletin_from_audio("Thông báo", test::tone_wav(2.0));
  ASSERT_TRUE(bulletin.ok()) << bulletin.error().message;
  ScheduleRequest r;
  r.bulletin_id = bulletin->id;
  r.at = "2026-11-01T08:00";
  r.targets = {"area:79/26734"};  // n1 only
  auto o = controller.schedule(r);
  ASSERT_TRUE(o.ok()) << o.error().message;
  clock.set(o->start_us + 4 * kSecond);

  const auto event = [&](const BrokerNode& n, protocol::Outcome outcome, std::uint64_t seq) {
    protocol::PlaybackEvent e;
    e.node_id = n.id();
    e.occurrence_id = o->id;
    e.bulletin_id = o->bulletin_id;
    e.outcome = outcome;
    e.start_us = o->start_us + 10'000;
    e.end_us = e.start_us + 2 * kSecond;
    e.frames_played = outcome == protocol::Outcome::completed ? 100 : 20;
    e.event_seq = seq;
    return e;
  };
  const auto refusals = [&] {
    auto list = controller.refused_log({});
    return list.ok() ? list->size() : 0;
  };
  const auto refusal_reason = [&](std::size_t i) {  // oldest first
    auto list = controller.refused_log({});
    return list->at(list->size() - 1 - i).reason;
  };

  // The genuine event, then its resend: counted once.
  const auto genuine = event(n1, protocol::Outcome::completed, 1);
  n1.publish(n1.seal(genuine));
  n1.publish(n1.seal(genuine));
  // 1. Signed with a key that is not n1's.
  const auto mallory = protocol::KeyPair::generate();
  n1.publish(n1.seal(event(n1, protocol::Outcome::completed, 2), &mallory));
  ASSERT_TRUE(wait_for([&] { return refusals() == 1; })) << refusals();
  // 2. A node nobody registered.
  ghost.publish(ghost.seal(event(ghost, protocol::Outcome::completed, 1)));
  ASSERT_TRUE(wait_for([&] { return refusals() == 2; }));
  // 3. n2 claims an occurrence that did not target it.
  n2.publish(n2.seal(event(n2, protocol::Outcome::completed, 1)));
  ASSERT_TRUE(wait_for([&] { return refusals() == 3; }));
  // 4. The same (node, occurrence) again with another outcome.
  n1.publish(n1.seal(event(n1, protocol::Outcome::partial, 3)));
  ASSERT_TRUE(wait_for([&] { return refusals() == 4; }));
  // 5. Signed by n1, then one byte of the body changed on the way.
  auto altered = n1.seal(event(n1, protocol::Outcome::partial, 4));
  altered[protocol::kEnvelopeHeaderSize + 2] ^= 0x20;
  n1.publish(altered);
  ASSERT_TRUE(wait_for([&] { return refusals() == 5; }));

  EXPECT_EQ(refusal_reason(0), "wrong_key");
  EXPECT_EQ(refusal_reason(1), "unknown_node");
  EXPECT_EQ(refusal_reason(2), "not_targeted");
  EXPECT_EQ(refusal_reason(3), "conflicting");
  EXPECT_EQ(refusal_reason(4), "bad_signature");

  auto log = controller.playback_log({});
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().record.event, genuine);
  clock.set(o->expiry_us + settings.missed_grace_us + kSecond);
  auto cov = controller.coverage(0, o->id, false);
  ASSERT_TRUE(cov.ok());
  EXPECT_EQ(cov->total.targeted, 1u);
  EXPECT_EQ(cov->total.completed, 1u);
  EXPECT_EQ(cov->total.partial, 0u);
  PeriodQuery q;
  q.period.month = "2026-11";
  auto report = controller.period_report(q);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->total.plays.targeted, 1u);
  EXPECT_EQ(report->total.plays.completed, 1u);
  EXPECT_EQ(report->total.frames_aired, 100u);
  auto verified = controller.verify_report({});
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->verified());

  for (auto* n : {&n1, &n2, &ghost}) n->stop();
  bus->stop(1000);
  std::filesystem::remove_all(dir);
}

}  // namespace
