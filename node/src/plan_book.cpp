#include "loa/node/plan_book.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include "loa/runtime/files.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

namespace fs = std::filesystem;
using runtime::Log;
using runtime::LogLevel;

namespace {

constexpr std::string_view kFilePrefix = "plan-";
constexpr std::string_view kFileSuffix = ".env";
constexpr std::size_t kMaxEnvelope =
    protocol::kEnvelopeHeaderSize + protocol::kMaxBodySize + protocol::kSignatureSize;

}  // namespace

PlanBook::PlanBook(std::string node_id, const protocol::AreaPath& area,
                   protocol::KeySet controller_keys, std::string dir)
    : node_id_(std::move(node_id)),
      controller_keys_(std::move(controller_keys)),
      dir_(std::move(dir)) {
  for (const auto& a : area.self_and_ancestors()) scopes_.push_back(protocol::area_scope(a));
  scopes_.push_back(protocol::node_scope(node_id_));
}

bool PlanBook::in_scope(std::string_view scope) const {
  return std::find(scopes_.begin(), scopes_.end(), scope) != scopes_.end();
}

std::string PlanBook::file_for(const std::string& scope) const {
  // Scopes hold only [0-9A-Za-z_-] besides ':' and '/': map those two to '-' and '.'.
  std::string name(kFilePrefix);
  for (char c : scope) name.push_back(c == ':' ? '-' : c == '/' ? '.' : c);
  name += kFileSuffix;
  return (fs::path(dir_) / name).string();
}

std::size_t PlanBook::load() {
  if (dir_.empty()) return 0;
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kFilePrefix) && name.ends_with(kFileSuffix)) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::size_t loaded = 0;
  for (const auto& file : files) {
    auto bytes = runtime::read_file(file, kMaxEnvelope);
    if (!bytes) {
      Log(LogLevel::warn, "node").kv("file", file)
          << "plan file unreadable: " << bytes.error().message;
      continue;
    }
    const PlanOffer o = accept(*bytes, false);
    if (o.verdict == PlanVerdict::accepted) {
      ++loaded;
      Log(LogLevel::info, "node").kv("scope", o.scope).kv("version", o.version) << "plan loaded";
    } else {
      Log(LogLevel::warn, "node").kv("file", file) << "plan file refused: " << o.detail;
    }
  }
  return loaded;
}

PlanOffer PlanBook::offer(protocol::ByteView envelope) {
  return accept(envelope, true);
}

PlanOffer PlanBook::accept(protocol::ByteView envelope, bool persist) {
  PlanOffer out;
  const protocol::OpenResult opened = protocol::open(envelope, controller_keys_);
  if (!opened.ok()) {
    out.detail = std::string("envelope refused: ") + protocol::to_string(opened.rejection);
    return out;
  }
  if (opened.opened->header.type != protocol::MessageType::plan) {
    out.detail = std::string("envelope type ") + protocol::to_string(opened.opened->header.type) +
                 ", expected plan";
    return out;
  }
  auto plan = protocol::decode_plan(opened.opened->body);
  if (!plan) {
    out.detail = "plan: " + plan.error().message;
    return out;
  }
  out.scope = plan->scope;
  out.version = plan->version;
  if (!in_scope(plan->scope)) {
    out.detail = "scope '" + plan->scope + "' is not one of node " + node_id_ + "'s";
    return out;
  }
  const auto held = plans_.find(plan->scope);
  if (held != plans_.end()) {
    if (plan->version == held->second.plan.version) {
      out.verdict = PlanVerdict::unchanged;
      return out;
    }
    if (plan->version < held->second.plan.version) {
      out.detail = "replayed: version " + std::to_string(plan->version) + " is older than held " +
                   std::to_string(held->second.plan.version);
      return out;
    }
  }
  protocol::Bytes raw(envelope.begin(), envelope.end());
  if (persist && !dir_.empty()) {
    if (loa::Status s = runtime::write_file_atomic(file_for(plan->scope), raw); !s) {
      // Still held in memory: playing it matters more than surviving a restart.
      out.detail = "not persisted: " + s.message();
    }
  }
  const std::string scope = plan->scope;
  plans_[scope] = Held{std::move(plan).value(), std::move(raw)};
  out.verdict = PlanVerdict::accepted;
  return out;
}

std::vector<protocol::Occurrence> PlanBook::effective() const {
  // An occurrence in several plans (it moves between scopes, or changed) is taken from the
  // newest: plan versions increase across scopes.
  std::map<std::uint64_t, std::pair<std::uint64_t, const protocol::Occurrence*>> by_id;
  for (const auto& [scope, held] : plans_) {
    for (const auto& o : held.plan.occurrences) {
      auto [it, added] = by_id.try_emplace(o.occurrence_id, held.plan.version, &o);
      if (!added && held.plan.version > it->second.first) it->second = {held.plan.version, &o};
    }
  }
  std::vector<protocol::Occurrence> out;
  out.reserve(by_id.size());
  for (const auto& [id, from] : by_id) out.push_back(*from.second);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.start_us < b.start_us; });
  return out;
}

std::vector<protocol::HeldPlan> PlanBook::held() const {
  std::vector<protocol::HeldPlan> out;
  for (const auto& [scope, held] : plans_) out.push_back({scope, held.plan.version});
  return out;
}

std::uint64_t PlanBook::highest_version() const {
  std::uint64_t v = 0;
  for (const auto& [scope, held] : plans_) v = std::max(v, held.plan.version);
  return v;
}

}  // namespace loa::node
