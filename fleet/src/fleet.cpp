#include "loa/fleet/fleet.hpp"

#include <httplib.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <thread>

#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"

namespace loa::fleet {

namespace fs = std::filesystem;
using protocol::Micros;

namespace {

// Shortest wait between two passes: the players due within it are stepped together (each plays
// the frames whose time has come), so a pass is at most this late.
constexpr Micros kMinWaitUs = 500;
constexpr Micros kMaxWaitUs = 200'000;

}  // namespace

Result<std::vector<std::string>> area_paths(const std::string& spec, int nodes, int first) {
  const auto bad = [&] {
    return make_error("areas '" + spec + "': expected PROVINCE/COMMUNESxVILLAGES, e.g. 79/10x4");
  };
  const auto slash = spec.rfind('/');
  const auto x = spec.find('x', slash == std::string::npos ? 0 : slash);
  if (slash == std::string::npos || x == std::string::npos) return bad();
  int communes = 0, villages = 0;
  const char* end = spec.data() + spec.size();
  auto c = std::from_chars(spec.data() + slash + 1, spec.data() + x, communes);
  auto v = std::from_chars(spec.data() + x + 1, end, villages);
  if (c.ec != std::errc() || c.ptr != spec.data() + x || v.ec != std::errc() || v.ptr != end ||
      communes < 1 || communes > 89999 || villages < 1 || villages > 99) {
    return bad();
  }
  const std::string province = spec.substr(0, slash);
  std::vector<std::string> out;
  for (int i = first; i < first + nodes; ++i) {
    char area[160];
    std::snprintf(area, sizeof area, "%s/%05d/%02d", province.c_str(), 10001 + i % communes,
                  1 + (i / communes) % villages);
    if (!protocol::AreaPath::parse(area)) return bad();
    out.push_back(area);
  }
  return out;
}

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {
  if (options_.first < 0 || options_.nodes < 0 || options_.first + options_.nodes > 99999) {
    throw std::runtime_error("nodes " + std::to_string(options_.first + 1) + ".." +
                             std::to_string(options_.first + options_.nodes) +
                             ": ids have 5 digits (1..99999)");
  }
  auto areas = area_paths(options_.areas, options_.nodes, options_.first);
  if (!areas) throw std::runtime_error(areas.error().message);
  httplib::Client api(options_.controller);
  api.set_read_timeout(std::chrono::seconds(120));
  if (!options_.token_file.empty()) {
    std::ifstream in(options_.token_file);
    std::string token;
    if (!std::getline(in, token) || token.empty()) {
      throw std::runtime_error("token file '" + options_.token_file + "': no token on line 1");
    }
    api.set_bearer_token_auth(token);
  }
  if (!options_.controller_key.empty()) {
    auto key = runtime::load_public_key(options_.controller_key);
    if (!key) throw std::runtime_error(key.error().message);
    controller_key_ = *key;
  } else {
    auto res = api.Get("/api/v1/health");
    if (!res || res->status != 200) {
      throw std::runtime_error("controller '" + options_.controller + "': no health answer");
    }
    const auto hex = nlohmann::json::parse(res->body).value("public_key", "");
    auto bytes = runtime::from_hex(hex, controller_key_.size());
    if (!bytes) throw std::runtime_error("controller public key: " + bytes.error().message);
    std::copy(bytes->begin(), bytes->end(), controller_key_.begin());
  }
  nlohmann::json import = {{"nodes", nlohmann::json::array()}};
  for (int i = 0; i < options_.nodes; ++i) {
    auto m = std::make_unique<Member>();
    char id[64];
    std::snprintf(id, sizeof id, "%s%05d", options_.prefix.c_str(), options_.first + i + 1);
    m->id = id;
    m->area = (*areas)[static_cast<std::size_t>(i)];
    const fs::path dir = fs::path(options_.dir) / m->id;
    fs::create_directories(dir);
    auto key = runtime::load_or_create_key_pair((dir / "node.key").string());
    if (!key) throw std::runtime_error(m->id + ": " + key.error().message);
    m->key = *key;
    import["nodes"].push_back({{"id", m->id},
                               {"area", m->area},
                               {"name", "Fleet " + m->id},
                               {"speakers", 2},
                               {"residents", options_.residents},
                               { "public_key",
                                 runtime::to_hex(m->key.public_key) }});
    nodes_.push_back(std::move(m));
  }
  auto res = api.Post("/api/v1/nodes/import", import.dump(), "application/json");
  if (!res || res->status != 200) {
    throw std::runtime_error("controller '" + options_.controller + "': node import failed: " +
                             (res ? std::to_string(res->status) + " " + res->body : "no answer"));
  }
}

Fleet::~Fleet() {
  stop_all();
}

void Fleet::start(int from, int count) {
  for (int i = from; i < std::min(from + count, size()); ++i) {
    Member& m = *nodes_[static_cast<std::size_t>(i)];
    if (m.node) continue;
    const auto index = static_cast<std::size_t>(i);
    node::NodeConfig config;
    config.id = m.id;
    config.area = *protocol::AreaPath::parse(m.area);
    config.cache_dir = (fs::path(options_.dir) / m.id).string();
    config.controller_keys = protocol::KeySet(controller_key_);
    config.key = m.key;
    config.decode_audio = options_.decode;
    config.open_ahead_us = protocol::Micros{options_.open_ahead_ms} * 1000;
    runtime::BusConfig bus;
    bus.url = options_.broker;
    bus.client_id = "loa-node-" + m.id;
    m.bus = tap_events(hub_.make_bus(bus), m.key.public_key, m.truth);
    auto created =
        node::Node::create(std::move(config), *m.bus, m.clock, counting_sinks(m.pace, m.truth));
    if (!created) throw std::runtime_error(m.id + ": " + created.error().message);
    m.node = std::move(created).value();
    m.node->on_player_wake([this, index] { woken(index); });
    if (loa::Status s = m.node->start_driven(); !s) {
      throw std::runtime_error(m.id + ": " + s.message());
    }
    m.next_poll_us = 0;
    m.next_step_us = 0;
    m.cut = false;
    poll_due_.push({0, index});
    step_due_.push({0, index});
  }
}

void Fleet::kill(int from, int count) {
  cut(from, count, true);
  for (int i = from; i < std::min(from + count, size()); ++i) {
    Member& m = *nodes_[static_cast<std::size_t>(i)];
    m.node.reset();
    m.bus.reset();
  }
}

void Fleet::cut(int from, int count, bool cut) {
  for (int i = from; i < std::min(from + count, size()); ++i) {
    Member& m = *nodes_[static_cast<std::size_t>(i)];
    m.cut = cut;
    hub_.cut("loa-node-" + m.id, cut);
  }
}

void Fleet::woken(std::size_t i) {
  {
    std::lock_guard lock(woken_mu_);
    woken_.push_back(i);
  }
  woken_cv_.notify_one();
}

void Fleet::step(std::size_t i) {
  Member& m = *nodes_[i];
  if (!m.node) return;
  m.next_step_us = m.node->step_player();
  if (m.next_step_us != std::numeric_limits<Micros>::max()) step_due_.push({m.next_step_us, i});
}

void Fleet::poll(std::size_t i) {
  Member& m = *nodes_[i];
  if (!m.node) return;
  m.next_poll_us = m.node->poll();
  poll_due_.push({m.next_poll_us, i});
}

void Fleet::run(const std::atomic<bool>& stop, const std::function<void()>& each_second) {
  using Steady = std::chrono::steady_clock;
  const runtime::SystemClock clock;
  auto next_second = Steady::now();
  std::vector<std::size_t> woken;
  while (!stop) {
    {
      std::lock_guard lock(woken_mu_);
      woken.swap(woken_);
    }
    for (const std::size_t i : woken) step(i);
    woken.clear();
    Micros now = clock.now_us();
    while (!step_due_.empty() && step_due_.top().first <= now) {
      const auto [t, i] = step_due_.top();
      step_due_.pop();
      if (nodes_[i]->node && t == nodes_[i]->next_step_us) step(i);
    }
    now = clock.now_us();
    while (!poll_due_.empty() && poll_due_.top().first <= now) {
      const auto [t, i] = poll_due_.top();
      poll_due_.pop();
      if (nodes_[i]->node && t == nodes_[i]->next_poll_us) poll(i);
    }
    if (Steady::now() >= next_second) {
      if (each_second) each_second();
      next_second += std::chrono::seconds(1);
    }
    now = clock.now_us();
    Micros next = now + kMaxWaitUs;
    if (!step_due_.empty()) next = std::min(next, step_due_.top().first);
    if (!poll_due_.empty()) next = std::min(next, poll_due_.top().first);
    next = std::max(next, now + kMinWaitUs);
    std::unique_lock lock(woken_mu_);
    woken_cv_.wait_for(lock, std::chrono::microseconds(next - now),
                       [&] { return !woken_.empty() || stop; });
  }
}

void Fleet::stop_all() {
  for (auto& m : nodes_) {
    m->node.reset();
    m->bus.reset();
  }
}

nlohmann::json Fleet::summary() const {
  nlohmann::json per_node = nlohmann::json::array();
  std::map<std::string, std::uint64_t> cached_total;
  std::map<std::string, std::map<std::string, std::uint64_t>> outcomes;
  std::size_t running = 0, connected = 0;
  std::uint64_t bulletin_bytes = 0;
  for (const auto& m : nodes_) {
    nlohmann::json j = m->truth.to_json();
    j["id"] = m->id;
    j["area"] = m->area;
    j["running"] = m->node != nullptr;
    j["cut"] = m->cut;
    bulletin_bytes += m->truth.bulletin_bytes();
    j["connected"] = m->bus && m->bus->connected();
    nlohmann::json cached = nlohmann::json::array();
    if (m->node) {
      ++running;
      connected += m->bus->connected() ? 1 : 0;
      for (const auto b : m->node->cache().bulletins_oldest_first()) {
        cached.push_back(b);
        ++cached_total[std::to_string(b)];
      }
    }
    j["cached"] = cached;
    for (const auto& [occ, p] : m->truth.events()) {
      ++outcomes[std::to_string(occ)][protocol::to_string(p.event.outcome)];
    }
    per_node.push_back(std::move(j));
  }
  return {{"nodes", nodes_.size()}, {"running", running},
          {"connected", connected}, {"cached", cached_total},
          {"outcomes", outcomes},   {"bulletin_bytes_received", bulletin_bytes},
          {"per_node", per_node}};
}

}  // namespace loa::fleet
