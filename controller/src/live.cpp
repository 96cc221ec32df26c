// Live broadcasts on the controller (PROTOCOL.md, "Live stream"; docs/architecture.md, "Live").
#include <algorithm>

#include "loa/controller/chime.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using runtime::Log;
using runtime::LogLevel;

constexpr const char* kComponent = "live";
constexpr Micros kKeepMargin = 60'000'000;
// After its end, nodes that have not started the stream report `expired` from this much later.
constexpr Micros kEndGraceUs = 2'000'000;

ApiError bad(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}

}  // namespace

Reply<std::unique_ptr<LiveSession>> Controller::start_live(const LiveRequest& req) {
  auto priority = protocol::parse_priority(req.priority);
  if (!priority || *priority == protocol::Priority::normal) {
    return bad("priority: '" + req.priority + "' is not one of priority, emergency");
  }
  if (req.channels < 1 || req.channels > 8) {
    return bad("format: " + std::to_string(req.channels) + " channels (1..8)");
  }
  if (req.title.size() > 200) return bad("title: longer than 200 bytes");
  // The bulletins' bit rate, in the frames every live stream has (the nodes' jitter buffer keys
  // packets by sender_us + 20 ms each); at 20 ms any Opus bit rate fits a packet on the wire.
  EncodeOptions options = settings_.encode;
  options.frame_ms = kLiveFrameMs;
  if (loa::Status s = check_encode_options(options); !s) return bad("encoding: " + s.message());
  auto encoder = StreamEncoder::create(req.rate, options);
  if (!encoder) return bad("format: " + encoder.error().message);
  const bool chime = req.chime.value_or(*priority == protocol::Priority::emergency);

  Reply<std::pair<BulletinRecord, OccurrenceRecord>> stored =
      [&]() -> Reply<std::pair<BulletinRecord, OccurrenceRecord>> {
    std::lock_guard lock(mu_);
    auto resolved = resolve_targets(req.targets);
    if (!resolved) return resolved.error();
    if (*priority == protocol::Priority::emergency) {
      // An emergency bypasses approval: every targeted node gets it now.
      bool pending = false;
      for (auto& n : resolved->nodes) {
        pending = pending || n.approval != "none";
        n.approval = "none";
      }
      if (pending) {
        auto scopes = scopes_for(req.targets, resolved->nodes);
        if (!scopes) return scopes.error();
        resolved->scopes = std::move(*scopes);
      }
    }
    const Micros now = clock_.now_us();
    const Micros t0 = now + settings_.live_join_us;
    BulletinRecord b;
    b.title = req.title.empty() ? "live " + format_utc(t0) : req.title;
    b.source = "live";
    b.bitrate = options.bitrate;
    b.frame_ms = options.frame_ms;
    b.created_us = now;
    auto id = store_.add_bulletin(b);
    if (!id) return id.error();
    b.id = *id;
    OccurrenceRecord o;
    o.bulletin_id = b.id;
    o.start_us = t0 - Micros{(*encoder)->pre_skip()} * 1'000'000 / protocol::kOpusRate;
    o.expiry_us = t0 + settings_.live_max_us;
    o.priority = *priority;
    o.volume = 100;
    o.tz = settings_.tz;
    o.local_time = format_local(t0, o.tz).substr(0, 19);
    o.targets = req.targets;
    o.scopes = resolved->scopes;
    o.nodes = resolved->nodes;
    o.created_us = now;
    o.keep_until_us = o.expiry_us + kKeepMargin;
    auto oid = store_.add_occurrence(o);
    if (!oid) return oid.error();
    o.id = *oid;
    Outbox out;
    if (loa::Status s = publish_scopes(o.scopes, out); !s) {
      enqueue(std::move(out));
      return make_error("live occurrence stored, but " + s.message());
    }
    enqueue(std::move(out));
    Log(LogLevel::info, kComponent)
            .kv("stream", b.id)
            .kv("occurrence", o.id)
            .kv("priority", protocol::to_string(o.priority))
            .kv("nodes", o.nodes.size())
            .kv("scopes", o.scopes.size())
            .kv("chime", chime)
        << "live stream started";
    return std::make_pair(b, o);
  }();
  drain();
  if (!stored) return stored.error();
  const BulletinRecord bulletin = stored->first;
  const OccurrenceRecord occurrence = stored->second;

  LiveSession::Hooks hooks;
  const std::string topic = protocol::topics::live_stream(bulletin.id);
  hooks.seal = [this](const protocol::Bytes& body) {
    return signer_.seal(protocol::MessageType::audio_chunk, body);
  };
  hooks.publish = [this, topic](const protocol::Bytes& envelope) {
    return bus_.publish_best_effort(topic, envelope);
  };
  hooks.archive = [this, bulletin, occurrence](const LiveSummary& summary,
                                               const protocol::OpusStreamInfo& info,
                                               const PacketSpool& packets) -> loa::Status {
    // From the spool to the Ogg file a page at a time.
    auto ogg = catalog_.create_file();
    if (!ogg) return make_error("archive: " + ogg.error().message);
    auto writer = protocol::OggOpusWriter::create(
        info, [&](protocol::ByteView page) { return (*ogg)->append(page); });
    if (!writer) return make_error("archive: " + writer.error().message);
    if (loa::Status s = packets.for_each([&](protocol::ByteView p) { return writer->add(p); });
        !s) {
      return make_error("archive: " + s.message());
    }
    if (loa::Status s = writer->finish(); !s) return make_error("archive: " + s.message());
    auto file = (*ogg)->commit();
    if (!file) return make_error("archive: " + file.error().message);
    Outbox out;
    loa::Status result = [&]() -> loa::Status {
      std::lock_guard lock(mu_);
      BulletinRecord b = bulletin;
      b.duration_s = summary.duration_s;
      b.ogg_path = file->path;
      b.sha256_hex = file->sha256_hex;
      if (loa::Status s = store_.update_bulletin(b); !s) return s;
      auto o = store_.find_occurrence(occurrence.id);
      if (!o) return make_error(o.error().message);
      if (!*o) return make_error("occurrence " + std::to_string(occurrence.id) + " is gone");
      if ((*o)->cancelled()) return {};
      // Nodes that have not started it by the end report it expired; plans drop it later.
      (*o)->expiry_us = summary.end_us + kEndGraceUs;
      (*o)->keep_until_us = (*o)->expiry_us + kKeepMargin;
      if (loa::Status s = store_.update_occurrence(**o); !s) return s;
      if (loa::Status s = publish_scopes((*o)->scopes, out); !s) return s;
      return {};
    }();
    {
      std::lock_guard lock(mu_);
      enqueue(std::move(out));
    }
    drain();
    return result;
  };
  std::vector<float> prefix;
  if (chime) prefix = make_chime(req.rate);
  // The packets wait on disk for the archive; without a spool the stream still goes out.
  auto spool = PacketSpool::create(catalog_.dir());
  if (!spool) {
    Log(LogLevel::error, kComponent).kv("stream", bulletin.id).kv("reason", spool.error().message)
        << "live stream will not be archived";
  }
  return std::make_unique<LiveSession>(
      bulletin.id, occurrence.id,
      occurrence.start_us + Micros{(*encoder)->pre_skip()} * 1'000'000 / protocol::kOpusRate,
      std::move(*encoder), req.channels, static_cast<std::size_t>(settings_.live_packets_per_chunk),
      clock_, std::move(hooks), prefix, spool ? std::move(*spool) : nullptr);
}

}  // namespace loa::controller
