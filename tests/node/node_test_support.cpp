#include "node_test_support.hpp"

#include <opus.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <thread>

#include "loa/node/pacer.hpp"
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

void SimClock::sleep_until(protocol::Micros t) {
  std::unique_lock lock(mu_);
  if (free_) {
    if (now_.load() < t) now_.store(t);
    return;
  }
  if (now_.load() >= t) return;
  Sleeper self{t, false};
  parked_.push_back(&self);
  cv_.notify_all();
  cv_.wait(lock, [&] { return self.released; });
}

void SimClock::wake() {
  std::lock_guard lock(mu_);
  for (Sleeper* s : parked_) s->released = true;
  parked_.clear();
  cv_.notify_all();
}

bool SimClock::settle(int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return free_ || static_cast<int>(parked_.size()) >= threads_; });
}

bool SimClock::run_until(protocol::Micros t, int timeout_ms) {
  std::unique_lock lock(mu_);
  while (true) {
    if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return static_cast<int>(parked_.size()) >= threads_; })) {
      return false;
    }
    protocol::Micros next = std::numeric_limits<protocol::Micros>::max();
    for (const Sleeper* s : parked_) next = std::min(next, s->until);
    if (next > t) {
      now_.store(std::max(now_.load(), t));
      return true;
    }
    now_.store(std::max(now_.load(), next));
    std::erase_if(parked_, [&](Sleeper* s) {
      if (s->until > next) return false;
      s->released = true;
      return true;
    });
    cv_.notify_all();
  }
}

void SimClock::free_run() {
  std::lock_guard lock(mu_);
  free_ = true;
  for (Sleeper* s : parked_) s->released = true;
  parked_.clear();
  cv_.notify_all();
}

namespace {

class RecordingSink final : public Sink {
 public:
  RecordingSink(runtime::Clock& clock, protocol::Micros latency_us, std::uint64_t occurrence,
                Timeline& timeline, bool can_continue)
      : clock_(clock),
        latency_us_(latency_us),
        occurrence_(occurrence),
        timeline_(timeline),
        can_continue_(can_continue),
        pacer_(clock, 48000) {}
  loa::Status open(std::uint32_t rate, std::uint8_t channels) override {
    rate_ = rate;
    channels_ = channels;
    frames_ = 0;
    pacer_.restart(rate);
    return {};
  }
  protocol::Micros output_latency_us() const override { return latency_us_; }
  loa::Status write(std::span<const std::int16_t> samples) override {
    // A device plays continuously from the first write: sample n leaves at start + latency +
    // n/rate.
    if (frames_ == 0) start_us_ = clock_.now_us();
    timeline_.add(
        {occurrence_,
         start_us_ + latency_us_ + static_cast<protocol::Micros>(frames_ * 1'000'000 / rate_),
         std::vector<std::int16_t>(samples.begin(), samples.end())});
    frames_ += samples.size() / channels_;
    pacer_.advance(samples.size() / channels_);
    return {};
  }
  void close() override {}
  bool continue_with(std::uint64_t occurrence) override {
    if (!can_continue_) return false;
    occurrence_ = occurrence;
    return true;
  }

 private:
  runtime::Clock& clock_;
  protocol::Micros latency_us_;
  std::uint64_t occurrence_;
  Timeline& timeline_;
  bool can_continue_;
  Pacer pacer_;
  std::uint32_t rate_ = 48000;
  std::uint8_t channels_ = 1;
  std::uint64_t frames_ = 0;
  protocol::Micros start_us_ = 0;
};

}  // namespace

SinkFactory Timeline::factory(runtime::Clock& clock, protocol::Micros latency_us,
                              bool can_continue) {
  return [this, &clock, latency_us, can_continue](std::uint64_t occurrence) {
    return std::make_unique<RecordingSink>(clock, latency_us, occurrence, *this, can_continue);
  };
}

void Timeline::add(Span span) {
  std::lock_guard lock(mu_);
  spans_.push_back(std::move(span));
}

std::vector<Timeline::Span> Timeline::spans() const {
  std::lock_guard lock(mu_);
  return spans_;
}

protocol::Micros Timeline::first_us(std::uint64_t occurrence) const {
  for (const auto& s : spans()) {
    if (s.occurrence == occurrence) return s.leaves_us;
  }
  return 0;
}

protocol::Micros Timeline::end_us(std::uint64_t occurrence) const {
  protocol::Micros end = 0;
  for (const auto& s : spans()) {
    if (s.occurrence == occurrence) {
      end = s.leaves_us + static_cast<protocol::Micros>(s.samples.size() * 1'000'000 / 48000);
    }
  }
  return end;
}

std::vector<std::int16_t> Timeline::samples(std::uint64_t occurrence) const {
  std::vector<std::int16_t> out;
  for (const auto& s : spans()) {
    if (s.occurrence == occurrence) out.insert(out.end(), s.samples.begin(), s.samples.end());
  }
  return out;
}

NodeConfig test_config(const std::string& id, const std::string& area, const std::string& cache,
                       const protocol::PublicKey& controller_key) {
  NodeConfig c;
  c.id = id;
  c.area = *protocol::AreaPath::parse(area);
  c.cache_dir = cache;
  c.controller_keys = protocol::KeySet(controller_key);
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
  const auto publish_manifest = [&] {
    if (!options.publish_manifest) return;
    publish(
        topics::bulletin_manifest(bulletin_id),
        seal(MessageType::manifest, protocol::encode(packaged->manifest), options.manifest_signer),
        true);
  };
  if (!options.manifest_last) publish_manifest();
  for (std::uint32_t i = 0; i < packaged->chunk_bodies.size(); ++i) {
    if (options.skip.count(i)) continue;
    Bytes body = packaged->chunk_bodies[i];
    if (options.tamper.count(i)) {
      body.back() ^= 0x5a;
    }
    publish(topics::bulletin_chunks(bulletin_id), seal(MessageType::audio_chunk, body));
  }
  if (options.manifest_last) publish_manifest();
  return *packaged;
}

void FakeController::send_control(const std::string& node_id, protocol::Control control) {
  if (control.target.empty()) control.target = protocol::node_scope(node_id);
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

void FakeController::set_answer_status_time(bool on) {
  std::lock_guard lock(mu_);
  answer_status_time_ = on;
}

void FakeController::set_answer_fetches(bool on) {
  std::lock_guard lock(mu_);
  answer_fetches_ = on;
}

std::optional<protocol::Opened> FakeController::open_up(const Bytes& payload) {
  protocol::KeySet keys;
  {
    std::lock_guard lock(mu_);
    keys = protocol::KeySet(trusted_);
  }
  auto r = protocol::open(payload, keys);
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
  {
    std::lock_guard lock(mu_);
    if (m.retained) {
      // A retained status is an old one (or the last will): not a new sequence.
    } else if (parsed->up != topics::UpKind::event) {
      up_sequences_.push_back(opened->header.sequence);
    }
  }
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
      bool answer = false;
      {
        std::lock_guard lock(mu_);
        statuses_.push_back(*s);
        answer = answer_status_time_ && s->online && !m.retained;
      }
      if (answer) {
        send_control(s->node_id, {protocol::ControlCommand::time, opened->header.sequence, {}});
      }
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
std::vector<std::uint64_t> FakeController::up_sequences() const {
  std::lock_guard lock(mu_);
  return up_sequences_;
}

std::vector<std::uint64_t> FakeController::event_sequences() const {
  std::lock_guard lock(mu_);
  return event_sequences_;
}

}  // namespace loa::node::test
