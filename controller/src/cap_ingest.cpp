// Controller: CAP 1.2 alerts (issue 5). A message is parsed and checked, its geocodes mapped to
// area paths, its audio (resource or text through TTS) made a bulletin, and an Actual Alert or
// Update submitted as an emergency repeat through the ordinary scheduling path. Every message,
// refused ones included, is stored in cap_alerts. docs/cap.md describes the rules.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "loa/controller/cap_alert.hpp"
#include "loa/controller/cap_plan.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/area_path.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using runtime::Log;
using runtime::LogLevel;

constexpr const char* kComponent = "cap";
constexpr Micros kSecond = 1'000'000;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kKeepMargin = kMinute;  // as in scheduling.cpp (session decision 2)
constexpr std::size_t kMaxTitle = 200;

ApiError bad(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}
ApiError refused(std::string message) {
  return api_error(ErrorCode::unprocessable, std::move(message));
}

// Stores the message's record (its id set in `rec`) and closes the alerts it refers to, as
// replaced by it at `now`; inside the caller's batch.
loa::Status store_and_close(Store& store, CapAlertRecord& rec,
                            const std::vector<CapAlertRecord>& referenced, Micros now) {
  auto id = store.add_cap_alert(rec);
  if (!id) return make_error(id.error().message);
  rec.id = *id;
  for (const auto& ref : referenced) {
    if (loa::Status s = store.close_cap_alert(ref.id, now, rec.id); !s) return s;
  }
  return {};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "2026-11-01T07:00:05" in `tz`: the wall time the scheduling path takes.
std::string wall_seconds(Micros t, const std::string& tz) {
  return format_local(t, tz).substr(0, 19);
}

// The text an alert without an audio resource is spoken from.
std::string speech_text(const CapInfo& info) {
  std::string text;
  for (const std::string* part : {&info.headline, &info.description, &info.instruction}) {
    if (part->empty()) continue;
    if (!text.empty()) {
      const char last = text.back();
      text += (last == '.' || last == '!' || last == '?' || last == ':') ? "\n" : ".\n";
    }
    text += *part;
  }
  return text;
}

struct AudioSource {
  protocol::Bytes bytes;  // empty: speak `text`
  std::string text;
  std::string voice;
  std::string note;  // why a resource was not used
};

// The alert's audio: an audio/* resource (derefUri, or a file: URI under `file_root`), else its
// text. Never fetches over the network.
Reply<AudioSource> audio_source(const CapInfo& info, const std::string& file_root) {
  AudioSource src;
  for (std::size_t i = 0; i < info.resources.size(); ++i) {
    const CapResource& r = info.resources[i];
    const std::string where = info.path + "/resource[" + std::to_string(i + 1) + "]";
    if (lower(r.mime_type).rfind("audio/", 0) != 0) continue;
    if (r.deref) {
      src.bytes = *r.deref;
      return src;
    }
    if (r.uri.rfind("file:", 0) == 0) {
      std::string path = r.uri.substr(5);
      if (path.rfind("//", 0) == 0) path = path.substr(2);  // file:///abs and file://localhost/
      if (path.rfind("localhost/", 0) == 0) path = path.substr(9);
      if (file_root.empty()) {
        return refused(where +
                       "/uri: file URIs are not accepted (the controller has no "
                       "cap-file-root); give the audio in derefUri");
      }
      std::error_code ec;
      const auto root = std::filesystem::weakly_canonical(file_root, ec);
      const auto file = std::filesystem::weakly_canonical(path, ec);
      const auto rel = file.lexically_relative(root);
      if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) {
        return refused(where + "/uri: '" + r.uri + "' is outside the cap-file-root " + file_root);
      }
      std::ifstream f(file, std::ios::binary);
      if (!f) return refused(where + "/uri: cannot read '" + file.string() + "'");
      src.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
      if (src.bytes.empty()) return refused(where + "/uri: '" + file.string() + "' is empty");
      return src;
    }
    src.note = where + ": '" + r.uri +
               "' is not fetched (loa never fetches over the network); the text is spoken";
  }
  src.text = speech_text(info);
  if (src.text.empty()) {
    return refused(info.path +
                   ": nothing to play: no audio resource (derefUri or file: uri) and no "
                   "headline, description or instruction to speak");
  }
  const std::string lang = lower(info.language);
  src.voice = lang.substr(0, lang.find('-'));
  return src;
}

// Fills the record's summary fields from the parsed alert.
void describe(CapAlertRecord& rec, const CapAlert& a, const CapInfo* info) {
  rec.sender = a.sender;
  rec.identifier = a.identifier;
  rec.sent = a.sent;
  rec.sent_us = a.sent_us;
  rec.status = a.status;
  rec.msg_type = a.msg_type;
  rec.references = a.references_text;
  if (!info) return;
  rec.language = info->language;
  rec.event = info->event;
  rec.headline = info->headline;
  rec.urgency = info->urgency;
  rec.severity = info->severity;
  rec.certainty = info->certainty;
  rec.expires_us = info->expires_us.value_or(0);
}

}  // namespace

loa::Status Controller::cancel_cap_occurrences(const CapAlertRecord& earlier, bool future_only,
                                               std::vector<std::uint64_t>& cancelled,
                                               std::vector<std::string>& scopes) {
  const Micros now = clock_.now_us();
  std::vector<OccurrenceRecord> list;
  if (earlier.series_id != 0) {
    auto series = store_.find_series(earlier.series_id);
    if (!series) return make_error(series.error().message);
    if (*series && (*series)->cancelled_us == 0) {
      if (loa::Status s = store_.cancel_series(earlier.series_id, now); !s) return s;
    }
    auto of = store_.occurrences_of_series(earlier.series_id);
    if (!of) return make_error(of.error().message);
    list = std::move(*of);
  } else {
    for (const auto id : earlier.occurrences) {
      auto o = store_.find_occurrence(id);
      if (!o) return make_error(o.error().message);
      if (*o) list.push_back(std::move(**o));
    }
  }
  for (const auto& o : list) {
    if (o.cancelled() || now >= o.keep_until_us - kKeepMargin) continue;
    if (future_only && o.start_us <= now) continue;
    if (loa::Status s = store_.cancel_occurrence(o.id, now); !s) return s;
    cancelled.push_back(o.id);
    for (const auto& scope : o.scopes) {
      if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) scopes.push_back(scope);
    }
  }
  return {};
}

Reply<CapIngestResult> Controller::ingest_cap(std::string_view xml) {
  std::lock_guard cap_lock(cap_mu_);
  const Micros now = clock_.now_us();
  CapAlertRecord rec;
  rec.received_us = now;
  rec.xml = std::string(xml.substr(0, kMaxCapBytes));

  // Stores the message as refused, with the reason, and returns the error.
  auto refuse = [&](ApiError error) -> Reply<CapIngestResult> {
    rec.outcome = "refused";
    rec.reason = error.message;
    {
      std::lock_guard lock(mu_);
      auto id = store_.add_cap_alert(rec);
      if (!id) {
        Log(LogLevel::error, kComponent).kv("reason", id.error().message)
            << "refused CAP message not stored";
      }
    }
    Log(LogLevel::warn, kComponent)
            .kv("sender", rec.sender)
            .kv("identifier", rec.identifier)
            .kv("reason", error.message)
        << "CAP message refused";
    return error;
  };

  auto parsed = parse_cap(xml);
  if (!parsed) return refuse(bad(parsed.error().message));
  const CapAlert& alert = *parsed;
  const CapInfo* info = preferred_info(alert);
  describe(rec, alert, info);

  if (alert.status == "Draft") {
    return refuse(
        refused("alert/status: Draft messages are not acted on (send it as Actual, or "
                "as Test or Exercise to try the path)"));
  }
  if (alert.scope != "Public") {
    return refuse(refused("alert/scope: " + alert.scope +
                          " alerts are not for public loudspeakers; only Public is taken"));
  }

  // Duplicates and references.
  std::vector<CapAlertRecord> referenced;
  {
    std::unique_lock lock(mu_);
    auto earlier = store_.find_cap_alert(alert.sender, alert.identifier);
    if (!earlier) return earlier.error();
    if (*earlier && (*earlier)->sent_us == alert.sent_us) {
      CapIngestResult same;
      same.alert = std::move(**earlier);
      same.alert.xml.clear();
      same.duplicate = true;
      Log(LogLevel::info, kComponent)
              .kv("sender", alert.sender)
              .kv("identifier", alert.identifier)
              .kv("cap", same.alert.id)
          << "CAP message received again; nothing done twice";
      return same;
    }
    if (*earlier && (*earlier)->sent_us != alert.sent_us) {
      const std::string sent = (*earlier)->sent;
      lock.unlock();
      return refuse(api_error(ErrorCode::conflict, "alert/identifier: '" + alert.identifier +
                                                       "' from '" + alert.sender +
                                                       "' was received before with sent " + sent +
                                                       "; a new message needs a new identifier"));
    }
    for (const auto& ref : alert.references) {
      auto found = store_.find_cap_alert(ref.sender, ref.identifier);
      if (!found) return found.error();
      if (!*found || (*found)->sent_us != ref.sent_us) {
        lock.unlock();
        return refuse(refused("alert/references: no alert " + ref.sender + "," + ref.identifier +
                              "," + ref.sent + " was received; nothing to " +
                              lower(alert.msg_type)));
      }
      referenced.push_back(std::move(**found));
    }
  }

  const bool plays_type = alert.msg_type == "Alert" || alert.msg_type == "Update";
  if (plays_type && !info) {
    return refuse(bad("alert/info: missing; an " + alert.msg_type +
                      " needs an <info> saying what to announce and where"));
  }

  // What and where, for an Alert or Update.
  std::vector<std::string> targets;
  std::string level;
  std::int64_t repeat_min = 0;
  Micros start = 0;
  if (plays_type) {
    CapGeocodeTable table;
    {
      std::lock_guard lock(mu_);
      auto rows = store_.cap_geocodes();
      if (!rows) return rows.error();
      for (auto& g : *rows) table[{g.value_name, g.value}] = g.area;
    }
    auto plan =
        plan_cap_alert(*info, table, now, settings_.cap_lead_us, settings_.cap_default_repeat_min);
    if (!plan) return refuse(plan.error());
    start = plan->start;
    std::set<std::string> areas;
    {
      std::lock_guard lock(mu_);
      for (const auto& [path, code] : plan->mapped) {
        auto members = store_.nodes_in_area(path);
        if (!members) return members.error();
        if (members->empty()) {
          rec.unmapped.push_back(code + " (area " + path + " has no registered node)");
        } else {
          areas.insert(path);
        }
      }
    }
    for (const auto& u : plan->unmapped) rec.unmapped.push_back(u);
    if (areas.empty()) {
      return refuse(
          refused("no registered node in the areas mapped: " + brief_list(rec.unmapped, "; ")));
    }
    rec.areas.assign(areas.begin(), areas.end());
    for (const auto& a : rec.areas) targets.push_back("area:" + a);
    level = plan->level;
    repeat_min = plan->repeat_min;
    rec.repeat_every_min = repeat_min;
  }

  CapIngestResult result;
  const bool actual = alert.status == "Actual";
  if (!actual || !(plays_type || alert.msg_type == "Cancel")) {
    // Logged and acknowledged, never played.
    rec.outcome = "logged";
    rec.reason = "status " + alert.status + ", msgType " + alert.msg_type + ": logged, not played";
    if (!rec.unmapped.empty()) rec.reason += "; not mapped: " + brief_list(rec.unmapped, "; ");
    std::lock_guard lock(mu_);
    auto id = store_.add_cap_alert(rec);
    if (!id) return id.error();
    rec.id = *id;
    rec.xml.clear();
    result.alert = std::move(rec);
    Log(LogLevel::info, kComponent)
            .kv("cap", result.alert.id)
            .kv("sender", alert.sender)
            .kv("identifier", alert.identifier)
            .kv("status", alert.status)
            .kv("type", alert.msg_type)
        << "CAP message logged (not played)";
    return result;
  }

  if (alert.msg_type == "Cancel") {
    Reply<CapIngestResult> r = [&]() -> Reply<CapIngestResult> {
      std::lock_guard lock(mu_);
      std::vector<std::string> scopes;
      loa::Status done = store_.batch([&]() -> loa::Status {
        for (const auto& ref : referenced) {
          if (loa::Status s = cancel_cap_occurrences(ref, false, result.cancelled, scopes); !s) {
            return s;
          }
        }
        rec.outcome = "applied";
        rec.reason = "cancelled " + std::to_string(result.cancelled.size()) + " occurrence(s)";
        return store_and_close(store_, rec, referenced, now);
      });
      if (!done) return make_error("CAP cancel: " + done.message());
      Outbox out;
      loa::Status s = publish_scopes(scopes, out);
      enqueue(std::move(out));
      if (!s) result.warnings.push_back("cancelled, but " + s.message());
      return result;
    }();
    drain();
    if (r) {
      r->alert = rec;
      r->alert.xml.clear();
      Log(LogLevel::info, kComponent)
              .kv("cap", rec.id)
              .kv("identifier", alert.identifier)
              .kv("cancelled", r->cancelled.size())
          << "CAP cancel applied";
    }
    return r;
  }

  // An Actual Alert or Update: the audio, then the schedule.
  auto source = audio_source(*info, settings_.cap_file_root);
  if (!source) return refuse(source.error());
  if (!source->note.empty()) result.warnings.push_back(source->note);
  const std::string title = cut_utf8(
      "CAP " + alert.msg_type + ": " + info->event + " (" + alert.identifier + ")", kMaxTitle);
  auto bulletin =
      source->bytes.empty()
          ? create_bulletin_from_text(title, cut_utf8(source->text, 20000), source->voice)
          : create_bulletin_from_audio(title, protocol::ByteView(source->bytes));
  if (!bulletin) {
    ApiError e = bulletin.error();
    e.message = (source->bytes.empty() ? info->path + " text to speech: "
                                       : info->path + "/resource audio: ") +
                e.message;
    return refuse(e);
  }
  rec.bulletin_id = bulletin->id;
  rec.level = level;

  ScheduleRequest req;
  req.bulletin_id = bulletin->id;
  req.tz = settings_.tz;
  req.at = wall_seconds(start, req.tz);
  req.targets = targets;
  req.priority = level;
  const Micros duration = static_cast<Micros>(bulletin->duration_s * 1e6);
  if (repeat_min > 0) {
    req.repeat_every_min = repeat_min;
    req.until = wall_seconds(*info->expires_us, req.tz);
  }
  // An occurrence not started by then is dropped (never played late): 10 minutes, or the
  // alert's expiry if sooner.
  Micros expiry = start + duration + 10 * kMinute;
  if (info->expires_us && *info->expires_us<expiry&& * info->expires_us> start + kSecond) {
    expiry = *info->expires_us / kSecond * kSecond;
  }
  req.expiry = wall_seconds(expiry, req.tz);

  Reply<CapIngestResult> r = [&]() -> Reply<CapIngestResult> {
    std::lock_guard lock(mu_);
    std::vector<std::string> scopes;
    std::optional<ApiError> refusal;
    loa::Status done = store_.batch([&]() -> loa::Status {
      auto submitted = submit_locked(req);
      if (!submitted) {
        refusal = submitted.error();
        return make_error(submitted.error().message);
      }
      if (submitted->series) rec.series_id = submitted->series->id;
      for (const auto& o : submitted->occurrences) rec.occurrences.push_back(o.id);
      for (const auto& w : submitted->warnings) result.warnings.push_back(w);
      for (const auto& ref : referenced) {
        if (loa::Status s = cancel_cap_occurrences(ref, true, result.cancelled, scopes); !s) {
          return s;
        }
      }
      rec.outcome = "scheduled";
      rec.reason = std::to_string(rec.occurrences.size()) + " occurrence(s), " + level + ", in " +
                   std::to_string(rec.areas.size()) + " area(s)";
      if (!result.cancelled.empty()) {
        rec.reason += "; replaced " + std::to_string(result.cancelled.size()) +
                      " occurrence(s) of the earlier alert";
      }
      if (!rec.unmapped.empty()) {
        rec.reason += "; not sounding (not mapped): " + brief_list(rec.unmapped, "; ");
      }
      return store_and_close(store_, rec, referenced, now);
    });
    if (refusal) return *refusal;
    if (!done) return make_error("CAP alert: " + done.message());
    Outbox out;
    loa::Status s = publish_scopes(scopes, out);
    enqueue(std::move(out));
    if (!s) result.warnings.push_back("earlier alert cancelled, but " + s.message());
    return result;
  }();
  drain();
  if (!r) {
    // The refusal is recorded without the occurrences that were rolled back.
    rec.series_id = 0;
    rec.occurrences.clear();
    return refuse(r.error());
  }
  for (const auto& u : rec.unmapped) r->warnings.push_back("not sounding: " + u);
  r->alert = rec;
  r->alert.xml.clear();
  Log(LogLevel::info, kComponent)
          .kv("cap", rec.id)
          .kv("sender", alert.sender)
          .kv("identifier", alert.identifier)
          .kv("type", alert.msg_type)
          .kv("level", level)
          .kv("occurrences", rec.occurrences.size())
          .kv("areas", rec.areas.size())
          .kv("unmapped", rec.unmapped.size())
      << "CAP alert scheduled";
  return r;
}

Reply<std::vector<CapAlertRecord>> Controller::list_cap_alerts(std::size_t limit) {
  std::lock_guard lock(mu_);
  auto list = store_.cap_alerts(limit);
  if (!list) return list.error();
  return std::move(*list);
}

Reply<CapAlertRecord> Controller::get_cap_alert(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto a = store_.get_cap_alert(id);
  if (!a) return a.error();
  if (!*a) return api_error(ErrorCode::not_found, "unknown CAP alert " + std::to_string(id));
  return std::move(**a);
}

Reply<CapGeocodeRecord> Controller::set_cap_geocode(const CapGeocodeRecord& g) {
  if (g.value_name.empty() || g.value_name.size() > 256) {
    return bad("valueName: must be 1 to 256 bytes");
  }
  if (g.value.empty() || g.value.size() > 256) return bad("value: must be 1 to 256 bytes");
  auto area = protocol::AreaPath::parse(g.area);
  if (!area) return bad("area: " + area.error().message);
  std::lock_guard lock(mu_);
  CapGeocodeRecord stored{g.value_name, g.value, area->str()};
  if (loa::Status s = store_.set_cap_geocode(stored); !s) return make_error(s.message());
  Log(LogLevel::info, kComponent)
          .kv("value_name", g.value_name)
          .kv("value", g.value)
          .kv("area", stored.area)
      << "geocode mapped";
  return stored;
}

Reply<CapGeocodeRecord> Controller::remove_cap_geocode(const std::string& value_name,
                                                       const std::string& value) {
  std::lock_guard lock(mu_);
  auto rows = store_.cap_geocodes();
  if (!rows) return rows.error();
  for (const auto& g : *rows) {
    if (g.value_name != value_name || g.value != value) continue;
    auto removed = store_.remove_cap_geocode(value_name, value);
    if (!removed) return removed.error();
    return g;
  }
  return api_error(ErrorCode::not_found, "geocode " + value_name + "=" + value + " is not mapped");
}

Reply<std::vector<CapGeocodeRecord>> Controller::list_cap_geocodes() {
  std::lock_guard lock(mu_);
  auto rows = store_.cap_geocodes();
  if (!rows) return rows.error();
  return std::move(*rows);
}

}  // namespace loa::controller
