#include "loa/controller/controller.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

#include "loa/controller/local_time.hpp"
#include "loa/protocol/area_path.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using runtime::Log;
using runtime::LogLevel;

constexpr const char* kComponent = "controller";
constexpr std::size_t kMaxTitle = 200;
constexpr std::size_t kMaxName = 200;
constexpr std::size_t kMaxSpeechText = 20000;
constexpr Micros kDefaultExpiryMargin = 10LL * 60 * 1'000'000;

ApiError bad(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}

std::string bulletin_name(std::uint64_t id) {
  return "bulletin " + std::to_string(id);
}

Signer make_signer(const protocol::KeyPair& keys, runtime::Clock& clock, const std::string& file) {
  if (file.empty()) return Signer(keys, clock);
  auto reserved = runtime::read_sequence_file(file);
  if (!reserved) throw std::runtime_error(reserved.error().message);
  return Signer(keys, clock, *reserved, [file](std::uint64_t through) {
    return runtime::write_sequence_file(file, through);
  });
}

}  // namespace

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request:
      return "bad_request";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::unprocessable:
      return "unprocessable";
    case ErrorCode::internal:
      return "internal";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::forbidden:
      return "forbidden";
    case ErrorCode::too_many_requests:
      return "too_many_requests";
  }
  return "internal";
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request:
      return 400;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::conflict:
      return 409;
    case ErrorCode::unprocessable:
      return 422;
    case ErrorCode::internal:
      return 500;
    case ErrorCode::unauthorized:
      return 401;
    case ErrorCode::forbidden:
      return 403;
    case ErrorCode::too_many_requests:
      return 429;
  }
  return 500;
}

Controller::Controller(Store& store, runtime::Bus& bus, runtime::Clock& clock,
                       protocol::KeyPair keys, ControllerSettings settings)
    : store_(store),
      bus_(bus),
      clock_(clock),
      settings_(std::move(settings)),
      signer_(make_signer(keys, clock, settings_.sequence_file)),
      catalog_(settings_.audio_dir),
      dispatcher_(store_, catalog_, signer_, clock_) {
  if (const std::size_t n = catalog_.remove_incoming(); n > 0) {
    Log(LogLevel::warn, kComponent).kv("files", n) << "unfinished audio files removed";
  }
  dispatcher_.configure(
      settings_.trust_first_key,
      LedgerSettings{settings_.event_tolerance_us, settings_.refused_keep_per_node,
                     settings_.refused_keep_total},
      settings_.fetch_window_ms > 0 ? settings_.prefetch_bytes_per_s : 0);
  if (settings_.fetch_window_ms > 0) flusher_ = std::thread([this] { run_fetch_flusher(); });
  if (settings_.ingest_batch_max > 1) ingester_ = std::thread([this] { run_ingest(); });
}

Controller::~Controller() {
  {
    std::lock_guard lock(inbox_mu_);
    inbox_closed_ = true;
  }
  inbox_cv_.notify_all();
  if (ingester_.joinable()) ingester_.join();
  {
    std::lock_guard lock(flush_mu_);
    stopping_ = true;
  }
  flush_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void Controller::run_fetch_flusher() {
  std::unique_lock lock(flush_mu_);
  while (!stopping_) {
    flush_cv_.wait(lock, [&] { return stopping_ || flush_requested_; });
    // Let the window fill: every node that asks meanwhile is served by the same publication.
    flush_cv_.wait_for(lock, std::chrono::milliseconds(settings_.fetch_window_ms),
                       [&] { return stopping_; });
    flush_requested_ = false;
    lock.unlock();
    Outbox out;
    bool more = false;
    {
      std::lock_guard state(mu_);
      dispatcher_.flush_fetches(out);
      more = dispatcher_.fetches_pending();  // chunks the prefetch budget held back
      enqueue(std::move(out));
    }
    drain();
    lock.lock();
    flush_requested_ = flush_requested_ || more;
  }
}

loa::Status Controller::attach() {
  bus_.on_message([this](const runtime::BusMessage& m) { on_message(m); });
  return bus_.subscribe(protocol::topics::all_up_filter());
}

void Controller::on_message(const runtime::BusMessage& message) {
  if (!ingester_.joinable()) {
    std::vector<runtime::BusMessage> one{message};
    ingest(one);
    return;
  }
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.push_back(message);
  }
  inbox_cv_.notify_one();
}

void Controller::run_ingest() {
  const auto max = static_cast<std::size_t>(settings_.ingest_batch_max);
  std::vector<runtime::BusMessage> batch;
  for (;;) {
    {
      std::unique_lock lock(inbox_mu_);
      inbox_cv_.wait(lock, [&] { return inbox_closed_ || !inbox_.empty(); });
      // Closing: what is still queued is recorded first (nodes would re-send it anyway).
      if (inbox_.empty()) return;
      while (!inbox_.empty() && batch.size() < max) {
        batch.push_back(std::move(inbox_.front()));
        inbox_.pop_front();
      }
    }
    ingest(batch);
    batch.clear();
  }
}

void Controller::ingest(std::vector<runtime::BusMessage>& batch) {
  Outbox out;
  {
    std::lock_guard lock(mu_);
    const loa::Status committed = store_.batch([&]() -> loa::Status {
      for (const auto& m : batch) dispatcher_.handle(m, out);
      return {};
    });
    if (!committed) {
      // Nothing of the batch is recorded: withhold its receipts, so the nodes keep their events
      // and re-send them; plans and chunks may still go out.
      Log(LogLevel::error, kComponent)
              .kv("messages", batch.size())
              .kv("reason", committed.message())
          << "could not record a batch of node messages; receipts withheld";
      std::erase_if(out, [](const runtime::BusMessage& m) {
        const auto parsed = protocol::topics::parse(m.topic);
        return parsed && parsed->kind == protocol::topics::Parsed::Kind::node_receipt;
      });
    }
    if (dispatcher_.fetches_pending()) {
      if (settings_.fetch_window_ms > 0) {
        std::lock_guard flush(flush_mu_);
        flush_requested_ = true;
        flush_cv_.notify_all();
      } else {
        dispatcher_.flush_fetches(out);
      }
    }
    enqueue(std::move(out));
  }
  drain();
}

void Controller::enqueue(Outbox&& out) {
  if (out.empty()) return;
  std::lock_guard lock(queue_mu_);
  for (auto& m : out) queue_.push_back(std::move(m));
}

void Controller::drain() {
  {
    std::lock_guard lock(queue_mu_);
    // Whoever drains already will publish ours too, in order (this also covers a bus that
    // delivers synchronously and calls back into on_message from publish()).
    if (draining_) return;
    draining_ = true;
  }
  for (;;) {
    runtime::BusMessage m;
    {
      std::lock_guard lock(queue_mu_);
      if (queue_.empty()) {
        draining_ = false;
        return;
      }
      m = std::move(queue_.front());
      queue_.pop_front();
    }
    if (loa::Status s = bus_.publish(m.topic, m.payload, m.retained); !s) {
      Log(LogLevel::warn, kComponent).kv("topic", m.topic).kv("reason", s.message())
          << "publish failed";
    }
  }
}

NodeView Controller::view(NodeRecord record) const {
  const bool recent = record.last_seen_us != 0 &&
                      clock_.now_us() - record.last_seen_us <= settings_.offline_after_us;
  const bool online = record.online && recent;
  return NodeView{std::move(record), online};
}

Reply<NodeRecord> Controller::validate_node(const NodeInput& in, const std::string& where) const {
  if (loa::Status s = protocol::validate_node_id(in.id); !s) {
    return bad(where + "id: " + s.message());
  }
  auto area = protocol::AreaPath::parse(in.area);
  if (!area) return bad(where + "area: " + area.error().message);
  if (in.speakers < 0 || in.speakers > kMaxNodeSpeakers) {
    return bad(where + "speakers: " + std::to_string(in.speakers) + " is outside 0.." +
               std::to_string(kMaxNodeSpeakers));
  }
  if (in.residents < 0 || in.residents > kMaxNodeResidents) {
    return bad(where + "residents: " + std::to_string(in.residents) + " is outside 0.." +
               std::to_string(kMaxNodeResidents));
  }
  if (in.name.size() > kMaxName) {
    return bad(where + "name: longer than " + std::to_string(kMaxName) + " bytes");
  }
  NodeRecord r;
  r.id = in.id;
  r.area = area->str();
  r.speakers = in.speakers;
  r.residents = in.residents;
  r.name = in.name.empty() ? in.id : in.name;
  if (!in.public_key_hex.empty()) {
    auto key = runtime::from_hex(in.public_key_hex, protocol::PublicKey{}.size());
    if (!key) return bad(where + "public_key: " + key.error().message);
    protocol::PublicKey k{};
    std::copy(key->begin(), key->end(), k.begin());
    r.public_key = k;
  }
  return r;
}

Reply<NodeView> Controller::add_node(const NodeInput& input) {
  auto record = validate_node(input, "");
  if (!record) return record.error();
  Reply<NodeView> result = [&]() -> Reply<NodeView> {
    std::lock_guard lock(mu_);
    auto existing = store_.find_node(record->id);
    if (!existing) return existing.error();
    if (*existing) {
      return api_error(ErrorCode::conflict, "node '" + record->id + "' already exists");
    }
    if (loa::Status s = store_.add_node(*record); !s) return make_error(s.message());
    Log(LogLevel::info, kComponent).kv("node", record->id).kv("area", record->area) << "node added";
    // The new node must not get occurrences planned before it joined (issue 4).
    Outbox out;
    if (loa::Status s = rescope_live_occurrences(out); !s) {
      Log(LogLevel::error, kComponent).kv("reason", s.message()) << "plans not recomputed";
    }
    enqueue(std::move(out));
    return view(*record);
  }();
  drain();
  return result;
}

Reply<std::size_t> Controller::import_nodes(const std::vector<NodeInput>& inputs,
                                            const NodeChangeCheck& allow) {
  if (inputs.empty()) return bad("no nodes to import");
  std::vector<NodeRecord> records;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string where = "nodes[" + std::to_string(i) + "] (id '" + inputs[i].id + "'): ";
    auto r = validate_node(inputs[i], where);
    if (!r) return r.error();
    if (!ids.insert(r->id).second) return bad(where + "id appears twice");
    records.push_back(std::move(*r));
  }
  {
    std::lock_guard lock(mu_);
    // Checked against the rows as stored under the lock of the write: no change slips in between.
    for (std::size_t i = 0; allow && i < records.size(); ++i) {
      auto existing = store_.find_node(records[i].id);
      if (!existing) return existing.error();
      if (auto denied = allow(*existing ? &**existing : nullptr, records[i])) {
        denied->message = "nodes[" + std::to_string(i) + "] (id '" + records[i].id +
                          "'): " + denied->message + "; nothing was imported";
        return *denied;
      }
    }
    if (loa::Status s = store_.upsert_nodes(records); !s) return make_error(s.message());
    Log(LogLevel::info, kComponent).kv("nodes", records.size()) << "nodes imported";
    // Added or moved nodes must not get occurrences planned before (issue 4).
    Outbox out;
    if (loa::Status s = rescope_live_occurrences(out); !s) {
      Log(LogLevel::error, kComponent).kv("reason", s.message()) << "plans not recomputed";
    }
    enqueue(std::move(out));
  }
  drain();
  return records.size();
}

Reply<std::vector<NodeView>> Controller::list_nodes() {
  std::lock_guard lock(mu_);
  auto nodes = store_.list_nodes();
  if (!nodes) return nodes.error();
  std::vector<NodeView> out;
  out.reserve(nodes->size());
  for (auto& n : *nodes) out.push_back(view(std::move(n)));
  return out;
}

Reply<NodeView> Controller::get_node(const std::string& id) {
  std::lock_guard lock(mu_);
  auto node = store_.find_node(id);
  if (!node) return node.error();
  if (!*node) return api_error(ErrorCode::not_found, "unknown node '" + id + "'");
  return view(std::move(**node));
}

Reply<BulletinRecord> Controller::create_bulletin_from_audio(const std::string& title,
                                                             protocol::ByteView audio_file) {
  if (title.empty() || title.size() > kMaxTitle) {
    return bad("title: must be 1 to " + std::to_string(kMaxTitle) + " bytes");
  }
  if (audio_file.empty()) return bad("audio: the upload is empty");
  // Decoded and encoded a block at a time, the Ogg pages written to the file as they fill.
  auto file = catalog_.create_file();
  if (!file) return file.error();
  bool write_failed = false;
  auto encoded = encode_audio_bytes_to(audio_file, settings_.encode,
                                       [&](protocol::ByteView page) -> loa::Status {
                                         loa::Status s = (*file)->append(page);
                                         write_failed = !s;
                                         return s;
                                       });
  if (!encoded) {
    if (write_failed) return encoded.error();
    return api_error(ErrorCode::unprocessable, encoded.error().message);
  }
  auto stored = (*file)->commit();
  if (!stored) return stored.error();
  return add_bulletin(title, "audio", encoded->duration_s, *stored);
}

Reply<BulletinRecord> Controller::create_bulletin_from_text(const std::string& title,
                                                            const std::string& text,
                                                            const std::string& voice) {
  if (title.empty() || title.size() > kMaxTitle) {
    return bad("title: must be 1 to " + std::to_string(kMaxTitle) + " bytes");
  }
  if (text.empty()) return bad("text: is empty");
  if (text.size() > kMaxSpeechText) {
    return bad("text: longer than " + std::to_string(kMaxSpeechText) + " bytes");
  }
  auto encoded = synthesize_speech(text, voice.empty() ? "vi" : voice, settings_.encode);
  if (!encoded) return api_error(ErrorCode::unprocessable, encoded.error().message);
  auto stored = catalog_.store_ogg(encoded->ogg);
  if (!stored) return stored.error();
  return add_bulletin(title, "tts", encoded->duration_s, *stored);
}

Reply<BulletinRecord> Controller::add_bulletin(const std::string& title, const std::string& source,
                                               double duration_s, const StoredAudio& stored) {
  BulletinRecord b;
  b.title = title;
  b.source = source;
  b.duration_s = duration_s;
  b.ogg_path = stored.path;
  b.sha256_hex = stored.sha256_hex;
  b.bitrate = settings_.encode.bitrate;
  b.frame_ms = settings_.encode.frame_ms;
  b.created_us = clock_.now_us();
  std::lock_guard lock(mu_);
  auto id = store_.add_bulletin(b);
  if (!id) return id.error();
  b.id = *id;
  // Package now so that a bulletin the protocol cannot carry is refused here, not at schedule.
  if (auto pkg = catalog_.packaged(b); !pkg) {
    Log(LogLevel::error, kComponent).kv("bulletin", b.id).kv("reason", pkg.error().message)
        << "bulletin cannot be packaged";
    return api_error(ErrorCode::unprocessable, pkg.error().message);
  }
  Log(LogLevel::info, kComponent)
          .kv("bulletin", b.id)
          .kv("source", source)
          .kv("duration_s", b.duration_s)
          .kv("file", b.ogg_path)
      << "bulletin created";
  return b;
}

Reply<std::vector<BulletinRecord>> Controller::list_bulletins() {
  std::lock_guard lock(mu_);
  auto list = store_.list_bulletins();
  if (!list) return list.error();
  return std::move(*list);
}

Reply<BulletinRecord> Controller::get_bulletin(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto b = store_.find_bulletin(id);
  if (!b) return b.error();
  if (!*b) return api_error(ErrorCode::not_found, "unknown " + bulletin_name(id));
  return std::move(**b);
}

Reply<protocol::Bytes> Controller::bulletin_audio(std::uint64_t id) {
  auto b = get_bulletin(id);
  if (!b) return b.error();
  auto bytes = catalog_.read_ogg(*b);
  if (!bytes) return bytes.error();
  return std::move(*bytes);
}

Reply<OccurrenceRecord> Controller::get_occurrence(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto o = store_.find_occurrence(id);
  if (!o) return o.error();
  if (!*o) return api_error(ErrorCode::not_found, "unknown occurrence " + std::to_string(id));
  return std::move(**o);
}

Reply<std::vector<OccurrenceRecord>> Controller::list_occurrences(Micros since_us) {
  std::lock_guard lock(mu_);
  auto list = store_.list_occurrences(since_us);
  if (!list) return list.error();
  return std::move(*list);
}

Reply<CoverageReport> Controller::coverage(std::uint64_t bulletin_id, std::uint64_t occurrence_id,
                                           bool by_area) {
  if ((bulletin_id == 0) == (occurrence_id == 0)) {
    return bad("give exactly one of bulletin and occurrence");
  }
  std::lock_guard lock(mu_);
  std::vector<OccurrenceRecord> occurrences;
  if (occurrence_id != 0) {
    auto o = store_.find_occurrence(occurrence_id);
    if (!o) return o.error();
    if (!*o) {
      return api_error(ErrorCode::not_found, "unknown occurrence " + std::to_string(occurrence_id));
    }
    bulletin_id = (*o)->bulletin_id;
    occurrences.push_back(std::move(**o));
  } else {
    auto b = store_.find_bulletin(bulletin_id);
    if (!b) return b.error();
    if (!*b) return api_error(ErrorCode::not_found, "unknown " + bulletin_name(bulletin_id));
    auto list = store_.occurrences_of_bulletin(bulletin_id);
    if (!list) return list.error();
    occurrences = std::move(*list);
  }
  LogFilter filter;
  filter.bulletin_id = bulletin_id;
  filter.occurrence_id = occurrence_id;
  filter.limit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  auto events = store_.events(filter);
  if (!events) return events.error();
  auto reports = store_.cache_reports(bulletin_id);
  if (!reports) return reports.error();
  CoverageReport report = compute_coverage(occurrences, *events, *reports, clock_.now_us(),
                                           settings_.missed_grace_us, by_area);
  report.bulletin_id = bulletin_id;
  report.occurrence_id = occurrence_id;
  return report;
}

Reply<std::vector<LogEntry>> Controller::playback_log(const LogQuery& q) {
  LogFilter filter;
  filter.node_id = q.node_id;
  filter.bulletin_id = q.bulletin_id;
  filter.occurrence_id = q.occurrence_id;
  filter.limit = q.limit;
  if (!q.area.empty()) {
    auto area = protocol::AreaPath::parse(q.area);
    if (!area) return bad("area: " + area.error().message);
    filter.area = area->str();
  }
  if (!q.since.empty()) {
    auto since = parse_instant(q.since, settings_.tz);
    if (!since) return bad("since: " + since.error().message);
    filter.since_us = *since;
  }
  std::lock_guard lock(mu_);
  auto events = store_.events(filter);
  if (!events) return events.error();
  std::map<std::string, std::string> areas;
  std::map<std::uint64_t, std::string> titles;
  std::vector<LogEntry> out;
  out.reserve(events->size());
  for (auto& e : *events) {
    LogEntry entry{std::move(e), {}, {}};
    const auto& node = entry.record.event.node_id;
    if (!areas.count(node)) {
      auto n = store_.find_node(node);
      areas[node] = (n && *n) ? (*n)->area : std::string();
    }
    entry.area = areas[node];
    const auto bid = entry.record.event.bulletin_id;
    if (!titles.count(bid)) {
      auto b = store_.find_bulletin(bid);
      titles[bid] = (b && *b) ? (*b)->title : std::string();
    }
    entry.bulletin_title = titles[bid];
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace loa::controller
