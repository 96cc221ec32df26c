// Issue 8, benchmark 2: how many playback events per second the controller's ledger records
// durably, and the receipt round trip, through a real Mosquitto. N registered nodes (own
// Ed25519 keys) each report M occurrences; one MQTT client publishes the nodes' sealed events,
// keeping at most --window events unreceipted (as a fleet would: nodes hold their outbox until
// the receipt), and takes the receipts. The same load runs once per --batch value, each on a
// fresh SQLite file (WAL, synchronous=FULL): batch 1 is one commit per event, the reference.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"
#include "mosquitto_broker.hpp"
#include "tone_wav.hpp"

using namespace loa;
using namespace loa::controller;
using Steady = std::chrono::steady_clock;

namespace {

constexpr Micros kMinute = 60'000'000;

struct Options {
  int nodes = 1000;
  int occurrences = 10;
  int window = 2000;
  std::vector<int> batches{1, 256};
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--nodes") {
      o.nodes = std::stoi(v);
    } else if (k == "--occurrences") {
      o.occurrences = std::stoi(v);
    } else if (k == "--window") {
      o.window = std::stoi(v);
    } else if (k == "--batch") {
      o.batches.clear();
      std::stringstream ss(v);
      for (std::string b; std::getline(ss, b, ',');) o.batches.push_back(std::stoi(b));
    } else {
      throw std::runtime_error("unknown option " + k +
                               " (--nodes N --occurrences M --window W --batch 1,256)");
    }
  }
  return o;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct RunResult {
  double seconds = 0;
  std::size_t events = 0;
  std::size_t recorded = 0;
  std::vector<double> round_trip_ms;
};

// One run: a fresh controller and store, the nodes registered, the occurrences scheduled and
// played (by the manual clock), then every event published and receipted.
RunResult run(const Options& o, int batch, const std::string& broker_url,
              const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto store = open_sqlite_store((dir / "controller.db").string());
  if (!store) throw std::runtime_error(store.error().message);
  runtime::BusConfig bc;
  bc.url = broker_url;
  bc.client_id = "loa-controller-" + std::to_string(batch);
  auto ctl_bus = runtime::make_mosquitto_bus(bc);
  const Micros t0 = *parse_utc("2026-12-01T00:00:00Z");
  runtime::ManualClock clock(t0);
  ControllerSettings settings;
  settings.audio_dir = (dir / "audio").string();
  settings.tz = "UTC";
  settings.ingest_batch_max = batch;
  Controller ctl(**store, *ctl_bus, clock, protocol::KeyPair::generate(), settings);
  if (!ctl.attach().ok() || !ctl_bus->start().ok()) throw std::runtime_error("controller bus");

  std::vector<protocol::KeyPair> keys;
  std::vector<NodeInput> inputs;
  for (int i = 0; i < o.nodes; ++i) {
    keys.push_back(protocol::KeyPair::generate());
    NodeInput in;
    in.id = "n" + std::to_string(i);
    in.area = "79/760/" + std::to_string(26734 + i % 50) + "/" + std::to_string(1 + i % 4);
    in.residents = 1000;
    in.public_key_hex = runtime::to_hex(protocol::ByteView(keys.back().public_key));
    inputs.push_back(std::move(in));
  }
  if (auto r = ctl.import_nodes(inputs); !r) throw std::runtime_error(r.error().message);
  auto bulletin = ctl.create_bulletin_from_audio("Thông báo", test::tone_wav(30));
  if (!bulletin) throw std::runtime_error(bulletin.error().message);
  std::vector<OccurrenceRecord> occs;
  for (int k = 0; k < o.occurrences; ++k) {
    ScheduleRequest req;
    req.bulletin_id = bulletin->id;
    req.at = format_utc(t0 + (60 + 5 * k) * kMinute).substr(0, 16);
    req.targets = {"area:79"};
    auto r = ctl.submit(req);
    if (!r) throw std::runtime_error(r.error().message);
    occs.push_back(r->occurrences.at(0));
  }
  clock.set(t0 + (60 + 5 * o.occurrences + 10) * kMinute);

  // The nodes' events, sealed by each node's key, in the order a fleet would send them.
  struct Pending {
    std::string topic;
    protocol::Bytes envelope;
    std::size_t node;
    std::uint64_t seq;
  };
  std::vector<Pending> events;
  for (int k = 0; k < o.occurrences; ++k) {
    for (int i = 0; i < o.nodes; ++i) {
      protocol::PlaybackEvent e;
      e.node_id = inputs[static_cast<std::size_t>(i)].id;
      e.occurrence_id = occs[static_cast<std::size_t>(k)].id;
      e.bulletin_id = bulletin->id;
      e.start_us = occs[static_cast<std::size_t>(k)].start_us;
      e.end_us = e.start_us + 30'000'000;
      e.frames_played = 1500;
      e.event_seq = static_cast<std::uint64_t>(k + 1);
      events.push_back(Pending{
          protocol::topics::node_up(e.node_id, protocol::topics::UpKind::event),
          protocol::seal(protocol::MessageType::playback_event, keys[static_cast<std::size_t>(i)],
                         e.end_us, e.event_seq, protocol::encode(e)),
          static_cast<std::size_t>(i), e.event_seq});
    }
  }

  // The fleet's client: publishes, and records when each node's events are receipted.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::uint64_t> through(static_cast<std::size_t>(o.nodes), 0);
  std::vector<std::vector<Steady::time_point>> sent(static_cast<std::size_t>(o.nodes));
  std::size_t receipted = 0;
  RunResult result;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < inputs.size(); ++i) index[inputs[i].id] = i;
  const protocol::PublicKey ctl_key = ctl.public_key();
  const protocol::KeySet ctl_keys(ctl_key);
  runtime::BusConfig fc;
  fc.url = broker_url;
  fc.client_id = "fleet-" + std::to_string(batch);
  auto fleet = runtime::make_mosquitto_bus(fc);
  fleet->on_message([&](const runtime::BusMessage& m) {
    const auto opened = protocol::open(m.payload, ctl_keys);
    if (!opened.ok()) return;
    const auto receipt = protocol::decode_receipt(opened.opened->body);
    if (!receipt) return;
    const auto it = index.find(receipt->node_id);
    if (it == index.end()) return;
    const auto now = Steady::now();
    std::lock_guard lock(mu);
    auto& t = through[it->second];
    while (t < receipt->recorded_through) {
      ++t;
      result.round_trip_ms.push_back(
          std::chrono::duration<double, std::milli>(now - sent[it->second][t - 1]).count());
      ++receipted;
    }
    cv.notify_all();
  });
  if (!fleet->subscribe("loa/v1/node/+/down/receipt").ok() || !fleet->start().ok()) {
    throw std::runtime_error("fleet bus");
  }
  for (int w = 0; w < 100 && !fleet->connected(); ++w) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // subscriptions settle

  const auto start = Steady::now();
  const auto limit = std::chrono::seconds(600);
  std::size_t published = 0;
  for (const auto& p : events) {
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, limit,
                  [&] { return published - receipted < static_cast<std::size_t>(o.window); });
      sent[p.node].push_back(Steady::now());
    }
    if (loa::Status s = fleet->publish(p.topic, p.envelope, false); !s) {
      throw std::runtime_error("publish: " + s.message());
    }
    ++published;
  }
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, limit, [&] { return receipted == events.size(); });
  }
  result.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  result.events = events.size();
  {
    std::lock_guard lock(mu);
    result.recorded = receipted;
  }
  fleet->stop(0);
  ctl_bus->stop(0);
  return result;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  runtime::set_log_level(runtime::LogLevel::warn);
  const auto dir =
      std::filesystem::temp_directory_path() / ("loa-bench-ingest-" + std::to_string(::getpid()));
  test::MosquittoBroker broker;
  std::printf("nodes %d x occurrences %d = %d events, at most %d unreceipted at a time\n", o.nodes,
              o.occurrences, o.nodes * o.occurrences, o.window);
  int failures = 0;
  for (const int batch : o.batches) {
    const RunResult r = run(o, batch, broker.url(), dir / ("batch-" + std::to_string(batch)));
    std::printf(
        "batch %4d: %zu of %zu events recorded and receipted in %.2f s = %.0f events/s; "
        "receipt round trip p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
        batch, r.recorded, r.events, r.seconds, static_cast<double>(r.recorded) / r.seconds,
        percentile(r.round_trip_ms, 50), percentile(r.round_trip_ms, 95),
        percentile(r.round_trip_ms, 99), percentile(r.round_trip_ms, 100));
    if (r.recorded != r.events) ++failures;
  }
  std::filesystem::remove_all(dir);
  return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "bench_ingest: " << e.what() << "\n";
  return 1;
}
