#include "loa/controller/ledger.hpp"

#include <algorithm>
#include <array>

#include "loa/controller/local_time.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using runtime::Log;
using runtime::LogLevel;

constexpr const char* kComponent = "ledger";
// Every PlaybackEvent counts 20 ms Opus frames (messages.hpp).
constexpr Micros kFrameUs = 20'000;

constexpr std::array kReasons = {
    RefusalReason::malformed,           RefusalReason::unknown_node,
    RefusalReason::no_registered_key,   RefusalReason::wrong_key,
    RefusalReason::bad_signature,       RefusalReason::node_mismatch,
    RefusalReason::decommissioned_node, RefusalReason::unknown_occurrence,
    RefusalReason::wrong_bulletin,      RefusalReason::not_targeted,
    RefusalReason::outside_window,      RefusalReason::implausible,
    RefusalReason::conflicting,
};

// The body of an envelope read without verifying it: only to name the occurrence a refused
// envelope claims, for the refusal log.
std::optional<protocol::PlaybackEvent> peek_event(protocol::ByteView envelope) {
  constexpr std::size_t kLengthOffset = protocol::kEnvelopeHeaderSize - 4;
  if (envelope.size() < protocol::kEnvelopeHeaderSize + protocol::kSignatureSize) {
    return std::nullopt;
  }
  std::size_t length = 0;
  for (std::size_t i = 0; i < 4; ++i) length = (length << 8) | envelope[kLengthOffset + i];
  if (length > protocol::kMaxBodySize ||
      envelope.size() != protocol::kEnvelopeHeaderSize + length + protocol::kSignatureSize) {
    return std::nullopt;
  }
  auto event =
      protocol::decode_playback_event(envelope.subspan(protocol::kEnvelopeHeaderSize, length));
  if (!event) return std::nullopt;
  return std::move(*event);
}

// At most `max` bytes of `text`, cut at a UTF-8 character boundary.
std::string cut_utf8(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  text.resize(n);
  return text;
}

std::string at(Micros t) {
  return format_utc(t) + " (" + std::to_string(t) + " µs)";
}

// Names the first field in which two events for the same (node, occurrence) differ.
std::string first_difference(const protocol::PlaybackEvent& a, const protocol::PlaybackEvent& b) {
  if (a.outcome != b.outcome) {
    return std::string("outcome ") + protocol::to_string(a.outcome) + " recorded, " +
           protocol::to_string(b.outcome) + " sent";
  }
  if (a.start_us != b.start_us) return "start instant differs";
  if (a.end_us != b.end_us) return "end instant differs";
  if (a.frames_played != b.frames_played) {
    return "frames played " + std::to_string(a.frames_played) + " recorded, " +
           std::to_string(b.frames_played) + " sent";
  }
  if (a.event_seq != b.event_seq) {
    return "event sequence " + std::to_string(a.event_seq) + " recorded, " +
           std::to_string(b.event_seq) + " sent";
  }
  return "frame counts or detail differ";
}

}  // namespace

const char* to_string(RefusalReason r) {
  switch (r) {
    case RefusalReason::malformed:
      return "malformed";
    case RefusalReason::unknown_node:
      return "unknown_node";
    case RefusalReason::no_registered_key:
      return "no_registered_key";
    case RefusalReason::wrong_key:
      return "wrong_key";
    case RefusalReason::bad_signature:
      return "bad_signature";
    case RefusalReason::node_mismatch:
      return "node_mismatch";
    case RefusalReason::decommissioned_node:
      return "decommissioned_node";
    case RefusalReason::unknown_occurrence:
      return "unknown_occurrence";
    case RefusalReason::wrong_bulletin:
      return "wrong_bulletin";
    case RefusalReason::not_targeted:
      return "not_targeted";
    case RefusalReason::outside_window:
      return "outside_window";
    case RefusalReason::implausible:
      return "implausible";
    case RefusalReason::conflicting:
      return "conflicting";
  }
  return "malformed";
}

bool is_refusal_reason(std::string_view text) {
  return std::any_of(kReasons.begin(), kReasons.end(),
                     [&](RefusalReason r) { return text == to_string(r); });
}

std::optional<WindowRefusal> check_event_window(const protocol::PlaybackEvent& e,
                                                const OccurrenceRecord& o, double duration_s,
                                                const LedgerSettings& settings) {
  const Micros tol = settings.tolerance_us;
  const Micros duration = static_cast<Micros>(duration_s * 1e6);
  const bool played = e.outcome == protocol::Outcome::completed ||
                      e.outcome == protocol::Outcome::partial ||
                      e.outcome == protocol::Outcome::preempted;
  auto outside = [](std::string detail) {
    return WindowRefusal{RefusalReason::outside_window, std::move(detail)};
  };
  // Only what aired can inflate a figure: the start bounds apply to plays that played audio.
  if (e.start_us != 0 && (played || e.frames_played > 0)) {
    if (e.start_us < o.start_us - tol) {
      return outside("start " + at(e.start_us) + " is before the occurrence's start " +
                     at(o.start_us) + " minus the tolerance");
    }
    if (e.start_us > o.expiry_us + tol) {
      return outside("start " + at(e.start_us) + " is after the occurrence's expiry " +
                     at(o.expiry_us) + " plus the tolerance");
    }
    if (e.end_us < e.start_us) {
      return outside("end " + at(e.end_us) + " is before its start " + at(e.start_us));
    }
    if (e.end_us > e.start_us + duration + tol) {
      return outside("end " + at(e.end_us) + " is later than its start plus the bulletin's " +
                     std::to_string(duration_s) + " s plus the tolerance");
    }
  } else {
    if (played) {
      return WindowRefusal{RefusalReason::implausible, std::string(protocol::to_string(e.outcome)) +
                                                           " without a start instant"};
    }
    // Never played: only the lower bound matters (a node that was off through the window may
    // report its expiry late; a late "not played" cannot inflate any figure).
    if (e.end_us != 0 && e.end_us < o.created_us - tol) {
      return outside("end " + at(e.end_us) + " is before the occurrence was scheduled at " +
                     at(o.created_us));
    }
  }
  if (static_cast<Micros>(e.frames_played) * kFrameUs > duration + tol) {
    return WindowRefusal{RefusalReason::implausible, std::to_string(e.frames_played) +
                                                         " frames played exceed the bulletin's " +
                                                         std::to_string(duration_s) + " s"};
  }
  return std::nullopt;
}

bool is_live_on_air(const BulletinRecord& bulletin) {
  return bulletin.source == "live" && bulletin.ogg_path.empty();
}

double event_duration_bound_s(const BulletinRecord& bulletin, const OccurrenceRecord& occurrence,
                              Micros now_us) {
  if (!is_live_on_air(bulletin)) return bulletin.duration_s;
  const Micros longest = std::max<Micros>(0, occurrence.expiry_us - occurrence.start_us);
  return static_cast<double>(std::clamp<Micros>(now_us - occurrence.start_us, 0, longest)) / 1e6;
}

LedgerVerdict Ledger::refuse(const std::string& node, protocol::ByteView payload,
                             RefusalReason reason, std::string detail, std::uint64_t occurrence_id,
                             std::optional<std::uint64_t> event_seq) {
  LedgerVerdict v;
  v.kind = LedgerVerdict::Kind::refused;
  v.reason = reason;
  v.detail = detail;
  v.occurrence_id = occurrence_id;
  RefusedEventRecord r;
  r.node_id = node;
  r.occurrence_id = occurrence_id;
  r.reason = to_string(reason);
  r.detail = cut_utf8(std::move(detail), kRefusedDetailKept);
  const auto kept = payload.first(std::min(payload.size(), kRefusedEnvelopeKept));
  r.envelope.assign(kept.begin(), kept.end());
  r.envelope_size = payload.size();
  const protocol::Digest digest = protocol::sha256(payload);
  r.envelope_sha256.assign(digest.begin(), digest.end());
  r.at_us = clock_.now_us();
  auto stored = store_.add_refused_event(r);
  Result<std::size_t> trimmed = std::size_t{0};
  if (stored && *stored) {
    trimmed = store_.trim_refused_events(node, settings_.refused_keep_per_node,
                                         settings_.refused_keep_total);
  }
  Log(LogLevel::warn, kComponent)
          .kv("node", node)
          .kv("occurrence", occurrence_id)
          .kv("reason", r.reason)
          .kv("detail", r.detail)
          .kv("bytes", payload.size())
          .kv("stored", stored ? (*stored ? "yes" : "already") : stored.error().message)
          .kv("oldest_dropped", trimmed ? std::to_string(*trimmed) : trimmed.error().message)
      << "playback event refused; not counted";
  if (event_seq) {
    // Authentic: it counts as received so the node's outbox drains.
    auto through = store_.note_event_seq(node, *event_seq);
    if (through) v.receipt_through = *through;
  }
  return v;
}

LedgerVerdict Ledger::accept(const std::string& node, protocol::ByteView payload) {
  auto failed = [&](const std::string& why) {
    Log(LogLevel::error, kComponent).kv("node", node).kv("reason", why)
        << "playback event not handled (store); the node will resend it";
    LedgerVerdict v;
    v.kind = LedgerVerdict::Kind::failed;
    v.detail = why;
    return v;
  };
  const auto claimed = peek_event(payload);
  const std::uint64_t claimed_occurrence = claimed ? claimed->occurrence_id : 0;

  auto found = store_.find_node(node);
  if (!found) return failed(found.error().message);
  if (!*found) {
    return refuse(node, payload, RefusalReason::unknown_node,
                  "no node '" + node + "' is registered", claimed_occurrence, std::nullopt);
  }
  const NodeRecord& record = **found;
  if (!record.public_key) {
    return refuse(node, payload, RefusalReason::no_registered_key,
                  "node '" + node + "' has no registered public key", claimed_occurrence,
                  std::nullopt);
  }
  const protocol::PublicKey key = *record.public_key;
  protocol::VerifyPolicy policy;
  policy.now_us = clock_.now_us();
  const protocol::OpenResult opened = protocol::open(payload, protocol::KeySet(key), policy);
  if (!opened.ok()) {
    const auto rej = opened.rejection;
    const RefusalReason reason =
        rej == protocol::Rejection::bad_signature ? RefusalReason::bad_signature
        : rej == protocol::Rejection::unknown_key ? RefusalReason::wrong_key
                                                  : RefusalReason::malformed;
    return refuse(node, payload, reason,
                  std::string("envelope refused: ") + protocol::to_string(rej) +
                      (claimed ? " (claims occurrence " + std::to_string(claimed_occurrence) + ")"
                               : std::string()),
                  claimed_occurrence, std::nullopt);
  }
  if (opened.opened->header.type != protocol::MessageType::playback_event) {
    return refuse(node, payload, RefusalReason::malformed,
                  std::string("message type ") + protocol::to_string(opened.opened->header.type) +
                      " on the event topic",
                  0, std::nullopt);
  }
  auto decoded = protocol::decode_playback_event(opened.opened->body);
  if (!decoded) {
    return refuse(node, payload, RefusalReason::malformed, decoded.error().message, 0,
                  std::nullopt);
  }
  const protocol::PlaybackEvent& e = *decoded;
  if (e.node_id != node) {
    // Its sequence number belongs to the node it names, not to this one: no receipt.
    return refuse(node, payload, RefusalReason::node_mismatch,
                  "the event names node '" + e.node_id + "', the topic '" + node + "'",
                  e.occurrence_id, std::nullopt);
  }
  (void)store_.set_node_seen(node, clock_.now_us(), true);
  if (record.decommissioned_us != 0) {
    return refuse(
        node, payload, RefusalReason::decommissioned_node,
        "node '" + node + "' was decommissioned at " + format_utc(record.decommissioned_us),
        e.occurrence_id, e.event_seq);
  }
  auto occurrence = store_.find_occurrence_brief(e.occurrence_id);
  if (!occurrence) return failed(occurrence.error().message);
  if (!*occurrence) {
    return refuse(node, payload, RefusalReason::unknown_occurrence,
                  "no occurrence " + std::to_string(e.occurrence_id), e.occurrence_id, e.event_seq);
  }
  const OccurrenceRecord& o = **occurrence;
  if (o.bulletin_id != e.bulletin_id) {
    return refuse(node, payload, RefusalReason::wrong_bulletin,
                  "occurrence " + std::to_string(o.id) + " plays bulletin " +
                      std::to_string(o.bulletin_id) + ", the event names bulletin " +
                      std::to_string(e.bulletin_id),
                  e.occurrence_id, e.event_seq);
  }
  auto targeted = store_.find_targeted_node(o.id, node);
  if (!targeted) return failed(targeted.error().message);
  if (!*targeted) {
    return refuse(node, payload, RefusalReason::not_targeted,
                  "occurrence " + std::to_string(o.id) + " did not target node '" + node + "'",
                  e.occurrence_id, e.event_seq);
  }
  auto bulletin = store_.find_bulletin(o.bulletin_id);
  if (!bulletin) return failed(bulletin.error().message);
  const Micros now = clock_.now_us();
  const double duration_s = *bulletin ? event_duration_bound_s(**bulletin, o, now) : 0.0;
  if (auto w = check_event_window(e, o, duration_s, settings_)) {
    // A live stream on air is checked against the time it has played so far: what does not fit
    // now may fit once it is archived with its duration.
    if (*bulletin && is_live_on_air(**bulletin) && now < o.expiry_us) {
      Log(LogLevel::info, kComponent)
              .kv("node", node)
              .kv("occurrence", e.occurrence_id)
              .kv("reason", to_string(w->reason))
              .kv("detail", w->detail)
          << "playback event of a live stream on air deferred; the node sends it again";
      LedgerVerdict v;
      v.kind = LedgerVerdict::Kind::deferred;
      v.reason = w->reason;
      v.detail = std::move(w->detail);
      v.occurrence_id = e.occurrence_id;
      return v;
    }
    return refuse(node, payload, w->reason, std::move(w->detail), e.occurrence_id, e.event_seq);
  }
  auto existing = store_.find_event(node, e.occurrence_id);
  if (!existing) return failed(existing.error().message);
  if (*existing) {
    if ((*existing)->event == e) {
      // The node's outbox resends (re-sealed, so the bytes may differ) until it has a receipt.
      auto through = store_.note_event_seq(node, e.event_seq);
      if (!through) return failed(through.error().message);
      Log(LogLevel::debug, kComponent).kv("node", node).kv("occurrence", e.occurrence_id)
          << "duplicate playback event; receipted again";
      LedgerVerdict v;
      v.kind = LedgerVerdict::Kind::duplicate;
      v.occurrence_id = e.occurrence_id;
      v.receipt_through = *through;
      return v;
    }
    return refuse(node, payload, RefusalReason::conflicting,
                  "an event for occurrence " + std::to_string(e.occurrence_id) +
                      " is already recorded (row " + std::to_string((*existing)->row_id) +
                      "): " + first_difference((*existing)->event, e),
                  e.occurrence_id, e.event_seq);
  }
  EventRecord rec;
  rec.event = e;
  rec.recorded_us = clock_.now_us();
  rec.envelope.assign(payload.begin(), payload.end());
  auto inserted = store_.add_event(rec);
  if (!inserted) return failed(inserted.error().message);
  auto through = store_.recorded_through(node);
  if (!through) return failed(through.error().message);
  Log(LogLevel::info, kComponent)
          .kv("node", node)
          .kv("occurrence", e.occurrence_id)
          .kv("outcome", protocol::to_string(e.outcome))
          .kv("seq", e.event_seq)
      << "playback recorded";
  LedgerVerdict v;
  v.kind = LedgerVerdict::Kind::recorded;
  v.occurrence_id = e.occurrence_id;
  v.receipt_through = *through;
  return v;
}

}  // namespace loa::controller
