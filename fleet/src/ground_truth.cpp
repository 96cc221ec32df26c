#include "loa/fleet/ground_truth.hpp"

#include "loa/node/null_sink.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/protocol/topics.hpp"

namespace loa::fleet {

namespace {

constexpr std::uint64_t kSamplesPerFrame = protocol::kOpusRate / 50;  // 20 ms

class CountingSink final : public node::Sink {
 public:
  CountingSink(runtime::Clock& clock, GroundTruth& truth, std::uint64_t occurrence_id)
      : inner_(clock), truth_(truth), occurrence_id_(occurrence_id) {}
  loa::Status open(std::uint32_t rate, std::uint8_t channels) override {
    channels_ = channels;
    return inner_.open(rate, channels);
  }
  protocol::Micros output_latency_us() const override { return 0; }
  loa::Status write(std::span<const std::int16_t> samples) override {
    truth_.add_samples(occurrence_id_, samples.size() / std::max<std::uint8_t>(channels_, 1));
    return inner_.write(samples);
  }
  void close() override { inner_.close(); }
  bool continue_with(std::uint64_t occurrence_id) override {
    occurrence_id_ = occurrence_id;
    return true;
  }

 private:
  node::NullSink inner_;
  GroundTruth& truth_;
  std::uint64_t occurrence_id_;
  std::uint8_t channels_ = 1;
};

class TapBus final : public runtime::Bus {
 public:
  TapBus(std::unique_ptr<runtime::Bus> inner, protocol::PublicKey key, GroundTruth& truth)
      : inner_(std::move(inner)), keys_(key), truth_(truth) {}
  void on_message(MessageHandler h) override {
    inner_->on_message([this, h = std::move(h)](const runtime::BusMessage& m) {
      if (m.topic.starts_with("loa/v1/bulletin/")) truth_.add_bulletin_bytes(m.payload.size());
      h(m);
    });
  }
  void on_connection(ConnectHandler h) override { inner_->on_connection(std::move(h)); }
  loa::Status start() override { return inner_->start(); }
  void stop(int drain_ms) override { inner_->stop(drain_ms); }
  loa::Status subscribe(const std::string& f) override { return inner_->subscribe(f); }
  loa::Status subscribe_best_effort(const std::string& f) override {
    return inner_->subscribe_best_effort(f);
  }
  loa::Status unsubscribe(const std::string& f) override { return inner_->unsubscribe(f); }
  loa::Status publish(const std::string& topic, runtime::ByteView payload, bool retain) override {
    if (topic.ends_with("/up/event")) note(payload);
    return inner_->publish(topic, payload, retain);
  }
  loa::Status publish_best_effort(const std::string& topic, runtime::ByteView payload) override {
    return inner_->publish_best_effort(topic, payload);
  }
  bool connected() const override { return inner_->connected(); }

 private:
  void note(runtime::ByteView payload) {
    const auto opened = protocol::open(payload, keys_);
    if (!opened.ok()) return;
    if (auto e = protocol::decode_playback_event(opened.opened->body)) truth_.add_event(*e);
  }

  std::unique_ptr<runtime::Bus> inner_;
  protocol::KeySet keys_;  // the node's key
  GroundTruth& truth_;
};

}  // namespace

void GroundTruth::add_samples(std::uint64_t occurrence_id, std::uint64_t samples) {
  std::lock_guard lock(mu_);
  samples_[occurrence_id] += samples;
}

void GroundTruth::add_event(const protocol::PlaybackEvent& e) {
  std::lock_guard lock(mu_);
  Published& p = events_[e.occurrence_id];
  if (p.times == 0) {
    p.event = e;
  } else if (!(p.event == e)) {
    p.conflicting = true;
  }
  ++p.times;
}

std::map<std::uint64_t, GroundTruth::Published> GroundTruth::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

nlohmann::json GroundTruth::to_json() const {
  std::lock_guard lock(mu_);
  nlohmann::json played = nlohmann::json::object();
  for (const auto& [occ, samples] : samples_) {
    played[std::to_string(occ)] = {{"samples", samples},
                                   {"frames", (samples + kSamplesPerFrame - 1) / kSamplesPerFrame}};
  }
  nlohmann::json events = nlohmann::json::object();
  for (const auto& [occ, p] : events_) {
    events[std::to_string(occ)] = {{"outcome", protocol::to_string(p.event.outcome)},
                                   {"bulletin", p.event.bulletin_id},
                                   {"frames_played", p.event.frames_played},
                                   {"start_us", p.event.start_us},
                                   {"end_us", p.event.end_us},
                                   {"event_seq", p.event.event_seq},
                                   {"detail", p.event.detail},
                                   {"published", p.times},
                                   {"conflicting", p.conflicting}};
  }
  return {{"played", played}, {"events", events}};
}

node::SinkFactory counting_sinks(runtime::Clock& clock, GroundTruth& truth) {
  return [&clock, &truth](std::uint64_t occurrence_id) -> std::unique_ptr<node::Sink> {
    return std::make_unique<CountingSink>(clock, truth, occurrence_id);
  };
}

std::unique_ptr<runtime::Bus> tap_events(std::unique_ptr<runtime::Bus> bus,
                                         protocol::PublicKey node_key, GroundTruth& truth) {
  return std::make_unique<TapBus>(std::move(bus), node_key, truth);
}

}  // namespace loa::fleet
