#include "node_test_support.hpp"

#include <opus.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "loa/protocol/topics.hpp"

namespace loa::node::test {

namespace topics = protocol::topics;
using protocol::Bytes;
using protocol::MessageType;

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "loa-node-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

protocol::OpusStream make_stream(double seconds, double base_hz) {
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  if (err != OPUS_OK) throw std::runtime_error("opus_encoder_create failed");
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(24000));
  opus_int32 lookahead = 0;
  opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
  const auto total = static_cast<std::size_t>(std::llround(seconds * 48000));
  const std::size_t frames = (total + static_cast<std::size_t>(lookahead) + 959) / 960;
  std::vector<opus_int16> pcm(frames * 960, 0);
  double phase = 0;
  for (std::size_t i = 0; i < total; ++i) {
    const double hz = base_hz * (1.0 + static_cast<double>(i) / static_cast<double>(total));
    phase += 2 * M_PI * hz / 48000.0;
    pcm[i] = static_cast<opus_int16>(std::lround(0.3 * 32767 * std::sin(phase)));
  }
  protocol::OpusStream s;
  s.channels = 1;
  s.pre_skip = static_cast<std::uint16_t>(lookahead);
  s.input_rate = 48000;
  s.total_samples = total;
  std::vector<unsigned char> buf(1275);
  for (std::size_t f = 0; f < frames; ++f) {
    const int n = opus_encode(enc, pcm.data() + f * 960, 960, buf.data(),
                              static_cast<opus_int32>(buf.size()));
    if (n < 0) throw std::runtime_error("opus_encode failed");
    s.packets.emplace_back(buf.begin(), buf.begin() + n);
  }
  opus_encoder_destroy(enc);
  return s;
}

Wav read_wav(const std::string& path) {
  Wav w;
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(in)), {});
  if (b.size() < 44) return w;
  auto u32 = [&](std::size_t o) {
    return std::uint32_t{b[o]} | std::uint32_t{b[o + 1]} << 8 | std::uint32_t{b[o + 2]} << 16 |
           std::uint32_t{b[o + 3]} << 24;
  };
  auto u16 = [&](std::size_t o) { return static_cast<std::uint16_t>(b[o] | b[o + 1] << 8); };
  if (std::string(b.begin(), b.begin() + 4) != "RIFF" ||
      std::string(b.begin() + 8, b.begin() + 16) != "WAVEfmt " || u16(20) != 1 || u16(34) != 16 ||
      std::string(b.begin() + 36, b.begin() + 40) != "data") {
    return w;
  }
  const std::uint32_t data = u32(40);
  if (u32(4) != 36 + data || b.size() != 44 + data) return w;
  w.channels = u16(22);
  w.rate = u32(24);
  for (std::size_t i = 44; i + 1 < b.size(); i += 2) {
    w.samples.push_back(static_cast<std::int16_t>(u16(i)));
  }
  w.ok = true;
  return w;
}

bool wait_for(const std::function<bool()>& done, int timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

NodeConfig test_config(const std::string& id, const std::string& area, const std::string& cache,
                       const protocol::PublicKey& controller_key) {
  NodeConfig c;
  c.id = id;
  c.area = *protocol::AreaPath::parse(area);
  c.cache_dir = cache;
  c.controller_key = controller_key;
  c.key = protocol::KeyPair::generate();
  c.status_interval_us = 60'000'000;
  c.fetch_timeout_us = 200'000;
  c.event_resend_us = 500'000;
  return c;
}

FakeController::FakeController(runtime::MemoryHub& hub, runtime::Clock& clock)
    : FakeController(hub.connect("controller"), clock) {}

FakeController::FakeController(std::unique_ptr<runtime::Bus> bus, runtime::Clock& clock)
    : clock_(clock), key_(protocol::KeyPair::generate()), bus_(std::move(bus)) {
  bus_->on_message([this](const runtime::BusMessage& m) { on_message(m); });
  bus_->on_connection([](bool) {});
  (void)bus_->subscribe(topics::all_up_filter());
  (void)bus_->start();
}

FakeController::~FakeController() {
  bus_->stop(0);
}

void FakeController::trust(const protocol::PublicKey& node_key) {
  std::lock_guard lock(mu_);
  trusted_.push_back(node_key);
}

Bytes FakeController::seal(MessageType type, const Bytes& body, const protocol::KeyPair* signer,
                           std::uint64_t sequence) {
  if (sequence == 0) {
    std::lock_guard lock(mu_);
    sequence = ++sequence_;
  }
  return protocol::seal(type, signer ? *signer : key_, clock_.now_us(), sequence, body);
}

void FakeController::publish_plan(const protocol::Plan& plan, const protocol::KeyPair* signer) {
  const Bytes env = seal(MessageType::plan, protocol::encode(plan), signer, plan.version);
  std::string topic;
  if (plan.scope.starts_with("area:")) {
    topic = topics::area_plan(*protocol::AreaPath::parse(plan.scope.substr(5)));
  } else {
    topic = topics::node_plan(plan.scope.substr(5));
  }
  publish(topic, env, true);
}

void FakeController::publish(const std::string& topic, const Bytes& payload, bool retain) {
  (void)bus_->publish(topic, payload, retain);
}

protocol::PackagedBulletin FakeController::offer_bulletin(std::uint64_t bulletin_id,
                                                          const protocol::OpusStream& stream,
                                                          const BulletinOptions& options) {
  auto packaged = protocol::package_bulletin(bulletin_id, stream, 24000);
  if (!packaged) throw std::runtime_error(packaged.error().message);
  {
    std::lock_guard lock(mu_);
    bulletins_[bulletin_id] = *packaged;
  }
  if (options.publish_manifest) {
    publish(
        topics::bulletin_manifest(bulletin_id),
        seal(MessageType::manifest, protocol::encode(packaged->manifest), options.manifest_signer),
        true);
  }
  for (std::uint32_t i = 0; i < packaged->chunk_bodies.size(); ++i) {
    if (options.skip.count(i)) continue;
    Bytes body = packaged->chunk_bodies[i];
    if (options.tamper.count(i)) {
      body.back() ^= 0x5a;
    }
    publish(topics::bulletin_chunks(bulletin_id), seal(MessageType::audio_chunk, body));
  }
  return *packaged;
}

void FakeController::send_control(const std::string& node_id, const protocol::Control& control) {
  publish(topics::node_control(node_id), seal(MessageType::control, protocol::encode(control)));
}

void FakeController::send_receipt(const std::string& node_id, std::uint64_t recorded_through) {
  publish(
      topics::node_receipt(node_id),
      seal(MessageType::receipt, protocol::encode(protocol::Receipt{node_id, recorded_through})));
}

void FakeController::set_auto_receipt(bool on) {
  std::lock_guard lock(mu_);
  auto_receipt_ = on;
}

void FakeController::set_answer_fetches(bool on) {
  std::lock_guard lock(mu_);
  answer_fetches_ = on;
}

std::optional<protocol::Opened> FakeController::open_up(const Bytes& payload) {
  protocol::VerifyPolicy policy;
  std::vector<protocol::PublicKey> keys;
  {
    std::lock_guard lock(mu_);
    keys = trusted_;
  }
  policy.key_lookup = [keys](protocol::KeyId id) -> std::optional<protocol::PublicKey> {
    for (const auto& k : keys) {
      if (protocol::key_id(k) == id) return k;
    }
    return std::nullopt;
  };
  auto r = protocol::open(payload, policy);
  if (!r.ok()) return std::nullopt;
  return r.opened;
}

void FakeController::on_message(const runtime::BusMessage& m) {
  auto parsed = topics::parse(m.topic);
  if (!parsed || parsed->kind != topics::Parsed::Kind::node_up || m.payload.empty()) return;
  auto opened = open_up(m.payload);
  if (!opened) {
    std::lock_guard lock(mu_);
    ++unverified_;
    return;
  }
  const protocol::ByteView body = opened->body;
  switch (parsed->up) {
    case topics::UpKind::event: {
      auto e = protocol::decode_playback_event(body);
      if (!e) return;
      bool receipt = false;
      std::uint64_t through = 0;
      {
        std::lock_guard lock(mu_);
        events_.push_back(*e);
        event_sequences_.push_back(opened->header.sequence);
        receipt = auto_receipt_;
        for (const auto& x : events_) {
          if (x.node_id == e->node_id) through = std::max(through, x.event_seq);
        }
      }
      if (receipt) send_receipt(e->node_id, through);
      return;
    }
    case topics::UpKind::fetch: {
      auto f = protocol::decode_fetch(body);
      if (!f) return;
      std::optional<protocol::PackagedBulletin> b;
      {
        std::lock_guard lock(mu_);
        fetches_.push_back(*f);
        if (!answer_fetches_) return;
        const auto it = bulletins_.find(f->bulletin_id);
        if (it == bulletins_.end()) return;
        b = it->second;
      }
      if (f->want_manifest) {
        publish(topics::bulletin_manifest(f->bulletin_id),
                seal(MessageType::manifest, protocol::encode(b->manifest)));
      }
      for (std::uint32_t i : f->indices) {
        if (i >= b->chunk_bodies.size()) continue;
        publish(topics::bulletin_chunks(f->bulletin_id),
                seal(MessageType::audio_chunk, b->chunk_bodies[i]));
      }
      return;
    }
    case topics::UpKind::hello: {
      auto h = protocol::decode_hello(body);
      if (!h) return;
      std::lock_guard lock(mu_);
      hellos_.push_back(*h);
      return;
    }
    case topics::UpKind::report: {
      auto r = protocol::decode_cache_report(body);
      if (!r) return;
      std::lock_guard lock(mu_);
      reports_.push_back(*r);
      return;
    }
    case topics::UpKind::status: {
      auto s = protocol::decode_status(body);
      if (!s) return;
      std::lock_guard lock(mu_);
      statuses_.push_back(*s);
      return;
    }
    default:
      return;
  }
}

std::vector<protocol::PlaybackEvent> FakeController::events() const {
  std::lock_guard lock(mu_);
  return events_;
}
std::vector<protocol::Fetch> FakeController::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}
std::vector<protocol::CacheReport> FakeController::reports() const {
  std::lock_guard lock(mu_);
  return reports_;
}
std::vector<protocol::Hello> FakeController::hellos() const {
  std::lock_guard lock(mu_);
  return hellos_;
}
std::vector<protocol::Status> FakeController::statuses() const {
  std::lock_guard lock(mu_);
  return statuses_;
}
std::size_t FakeController::unverified() const {
  std::lock_guard lock(mu_);
  return unverified_;
}
std::vector<std::uint64_t> FakeController::event_sequences() const {
  std::lock_guard lock(mu_);
  return event_sequences_;
}

}  // namespace loa::node::test
