// The fixture of the controller's tests on a MemoryHub: an in-memory store, a controller with
// its own key on the bus "controller", a probe that records every loa/v1/# message, a manual
// clock at 2026-11-01T00:00:00Z (07:00 in Asia/Ho_Chi_Minh), and the helpers the tests share.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "loa/controller/controller.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"
#include "test_node.hpp"

namespace loa::test {

class ControllerFixture : public ::testing::Test {
 protected:
  ControllerFixture();
  void SetUp() override;
  void TearDown() override;

  // The controller's settings: audio in the test's directory, a missed grace of 60 s, fetches
  // served as they arrive (no fetch window). A test class changes them by overriding this.
  virtual controller::ControllerSettings settings() const;
  // Makes the controller with settings() on bus_ and attaches it.
  void start_controller();
  // Waits until every message on the hub was delivered.
  void idle() { ASSERT_TRUE(hub_.wait_idle()); }

  // Registers a node (with its public key when `keys` is given, as provisioning does).
  void add_node(const std::string& id, const std::string& area, std::int64_t residents = 10,
                const protocol::KeyPair* keys = nullptr);
  // A bulletin of a tone of `seconds`; 0 when it fails (the test fails too).
  std::uint64_t make_bulletin(double seconds = 2.5);
  // A request to play `bulletin` at local time `at` (an hour after the test's now by default).
  controller::ScheduleRequest request(std::uint64_t bulletin, std::vector<std::string> targets,
                                      const std::string& at = "2026-11-01T08:00");
  // Schedules request(...) and waits for its publications; an empty record when it fails.
  controller::OccurrenceRecord schedule(std::uint64_t bulletin, std::vector<std::string> targets,
                                        const std::string& at = "2026-11-01T08:00");
  // Occurrence ids of the last plan the probe saw on `topic`, in plan order.
  std::vector<std::uint64_t> plan_ids(const std::string& topic);
  // What the last receipt the node received says is recorded (0: none).
  std::uint64_t last_receipt(TestNode& node);

  std::filesystem::path dir_;
  runtime::MemoryHub hub_;
  runtime::ManualClock clock_;
  std::unique_ptr<controller::Store> store_;
  std::unique_ptr<runtime::Bus> probe_bus_;
  Recorder probe_;
  std::unique_ptr<runtime::Bus> bus_;
  protocol::KeyPair keys_;
  std::unique_ptr<controller::Controller> controller_;
};

}  // namespace loa::test
