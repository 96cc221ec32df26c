// Issue 4 figure: a daily bulletin for a year to 10,000 nodes in 200 communes. Measures the
// controller's time to compute plans (rule expansion, materialization of occurrences with their
// frozen node sets, plan encoding and sealing) and the messages and bytes it publishes, with
// one plan per targeted commune (fan-out per area), not per node. The controller runs over a
// counting in-memory bus and an SQLite file store, driven day by day by a manual clock: a year
// of ticks. docs/benchmarks.md records results and method.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "counting_bus.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/controller/recurrence.hpp"
#include "loa/runtime/log.hpp"
#include "tone_wav.hpp"

using namespace loa;
using namespace loa::controller;
using Clock = std::chrono::steady_clock;

namespace {

constexpr Micros kDay = 86'400'000'000LL;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int arg(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return std::stoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int nodes = arg(argc, argv, "nodes", 10000);
  const int communes = arg(argc, argv, "communes", 200);
  const int days = arg(argc, argv, "days", 365);
  runtime::set_log_level(runtime::LogLevel::warn);

  const auto dir =
      std::filesystem::temp_directory_path() / ("loa-bench-year-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto store = open_sqlite_store((dir / "controller.db").string());
  if (!store) {
    std::cerr << store.error().message << '\n';
    return 1;
  }
  runtime::MemoryHub hub;
  bench::TrafficCounters published;
  bench::TrafficCounters delivered;
  bench::CountingBus bus(hub.connect("controller"), published, delivered);
  auto now = parse_utc("2026-11-30T17:00:00Z");
  runtime::ManualClock clock(*now);
  ControllerSettings settings;
  settings.audio_dir = (dir / "audio").string();
  settings.fetch_window_ms = 0;
  Controller controller(**store, bus, clock, protocol::KeyPair::generate(), settings);
  if (!controller.attach().ok() || !bus.start().ok()) return 1;

  // 20 districts x (communes / 20) communes, nodes spread evenly.
  std::vector<NodeInput> inputs;
  std::vector<std::string> targets;
  const int districts = std::max(1, communes / 10);
  for (int c = 0; c < communes; ++c) {
    const std::string area =
        "79/" + std::to_string(700 + c % districts) + "/" + std::to_string(26000 + c);
    targets.push_back("area:" + area);
    for (int k = c; k < nodes; k += communes) {
      NodeInput in;
      in.id = "n" + std::to_string(k);
      in.area = area + "/" + std::to_string(1 + k % 7);
      in.residents = 1000;
      inputs.push_back(std::move(in));
    }
  }
  auto t0 = Clock::now();
  if (auto r = controller.import_nodes(inputs); !r) {
    std::cerr << r.error().message << '\n';
    return 1;
  }
  const double import_s = seconds_since(t0);
  auto bulletin = controller.create_bulletin_from_audio("Bản tin sáng", test::tone_wav(60));
  if (!bulletin) {
    std::cerr << bulletin.error().message << '\n';
    return 1;
  }

  // Expansion alone: a year of a daily rule.
  auto rule = parse_rrule("FREQ=DAILY;BYHOUR=6;BYMINUTE=30");
  t0 = Clock::now();
  auto instants =
      expand(*rule, "2026-12-01T00:00", "Asia/Ho_Chi_Minh", *now, *now + 366 * kDay, 100000);
  const double expand_us = seconds_since(t0) * 1e6;

  const auto base_messages = published.total_messages();
  const auto base_bytes = published.total_bytes();
  ScheduleRequest req;
  req.bulletin_id = bulletin->id;
  req.at = "2026-12-01T06:30";
  req.rrule = "FREQ=DAILY;UNTIL=2027-11-30";
  req.targets = targets;
  t0 = Clock::now();
  auto result = controller.submit(req);
  const double submit_s = seconds_since(t0);
  if (!result) {
    std::cerr << result.error().message << '\n';
    return 1;
  }
  const auto submit_messages = published.total_messages() - base_messages;
  const auto submit_bytes = published.total_bytes() - base_bytes;

  double tick_total = 0;
  double tick_max = 0;
  std::size_t created = result->occurrences.size();
  for (int d = 0; d < days; ++d) {
    clock.advance(kDay);
    t0 = Clock::now();
    auto n = controller.tick();
    const double s = seconds_since(t0);
    if (!n) {
      std::cerr << n.error().message << '\n';
      return 1;
    }
    created += *n;
    tick_total += s;
    tick_max = std::max(tick_max, s);
  }
  const auto plan_idx = static_cast<std::size_t>(bench::TrafficKind::plan);
  const auto all_messages = published.total_messages() - base_messages;
  const auto all_bytes = published.total_bytes() - base_bytes;
  const auto plans = published.messages[plan_idx].load();
  const auto plan_bytes = published.bytes[plan_idx].load();

  std::printf("nodes %d, communes %d (plan scopes %zu), days simulated %d\n", nodes, communes,
              result->occurrences.empty() ? std::size_t{0} : result->occurrences[0].scopes.size(),
              days);
  std::printf("import of the nodes: %.2f s\n", import_s);
  std::printf("expand a year of FREQ=DAILY: %zu instants in %.0f us\n",
              instants ? instants->size() : 0, expand_us);
  std::printf(
      "schedule (series + %zu occurrences to the 8-day horizon + plans): %.3f s, %llu "
      "messages, %llu bytes\n",
      result->occurrences.size(), submit_s, static_cast<unsigned long long>(submit_messages),
      static_cast<unsigned long long>(submit_bytes));
  std::printf(
      "daily ticks: %d, occurrences created in total %zu, tick mean %.3f s, max %.3f s, "
      "total %.1f s\n",
      days, created, tick_total / days, tick_max, tick_total);
  std::printf(
      "published over the year: %llu messages, %llu bytes (plans: %llu messages, %llu "
      "bytes, %.0f bytes per plan)\n",
      static_cast<unsigned long long>(all_messages), static_cast<unsigned long long>(all_bytes),
      static_cast<unsigned long long>(plans), static_cast<unsigned long long>(plan_bytes),
      plans ? static_cast<double>(plan_bytes) / static_cast<double>(plans) : 0.0);
  std::printf("per node instead of per area: %llu plan messages would be %llu\n",
              static_cast<unsigned long long>(plans),
              static_cast<unsigned long long>(plans) * static_cast<unsigned long long>(nodes) /
                  static_cast<unsigned long long>(communes));
  bus.stop(0);
  std::filesystem::remove_all(dir);
  const bool ok = created == static_cast<std::size_t>(std::min(days + 8, 365));
  if (!ok) std::printf("FAILED: expected %d occurrences\n", std::min(days + 8, 365));
  return ok ? 0 : 1;
}
