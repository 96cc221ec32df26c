#include "loa/node/cache.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <system_error>

#include "loa/node/files.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

namespace fs = std::filesystem;
using runtime::Log;
using runtime::LogLevel;

namespace {

// The bulletin id of a cache file name "<id>.opus"; nullopt for anything else.
std::optional<std::uint64_t> bulletin_of(const fs::path& p) {
  if (p.extension() != ".opus") return std::nullopt;
  const std::string stem = p.stem().string();
  if (stem.empty() || stem.size() > 20 ||
      !std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  try {
    return std::stoull(stem);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Result<Cache> Cache::open(std::string dir, std::uint64_t limit_bytes) {
  if (loa::Status s = make_directories(dir); !s) return make_error("cache: " + s.message());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".tmp") fs::remove(entry.path(), ec);
  }
  return Cache(std::move(dir), limit_bytes);
}

std::string Cache::path(std::uint64_t bulletin_id) const {
  return (fs::path(dir_) / (std::to_string(bulletin_id) + ".opus")).string();
}

bool Cache::has(std::uint64_t bulletin_id) const {
  std::error_code ec;
  return fs::is_regular_file(path(bulletin_id), ec);
}

std::vector<std::uint64_t> Cache::bulletins_oldest_first() const {
  std::vector<std::pair<fs::file_time_type, std::uint64_t>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const auto id = bulletin_of(entry.path());
    if (!id) continue;
    const auto t = entry.last_write_time(ec);
    if (ec) continue;
    found.emplace_back(t, *id);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::uint64_t> out;
  out.reserve(found.size());
  for (const auto& f : found) out.push_back(f.second);
  return out;
}

bool Cache::evict_one(const std::set<std::uint64_t>& keep, std::uint64_t storing) const {
  for (std::uint64_t id : bulletins_oldest_first()) {
    if (id == storing || keep.count(id)) continue;
    std::error_code ec;
    const std::uint64_t size = fs::file_size(path(id), ec);
    if (!fs::remove(path(id), ec) || ec) continue;
    Log(LogLevel::info, "node").kv("bulletin", id).kv("bytes", size).kv("for", storing)
        << "evicted from the cache (no occurrence needs it)";
    return true;
  }
  return false;
}

loa::Status Cache::store(std::uint64_t bulletin_id, const protocol::OpusStream& stream,
                         const std::set<std::uint64_t>& keep, StoreFailure* why) const {
  auto set_why = [&](StoreFailure f) {
    if (why) *why = f;
  };
  set_why(StoreFailure::none);
  auto file = protocol::write_ogg_opus(stream);
  if (!file) {
    set_why(StoreFailure::other);
    return make_error("cache: bulletin " + std::to_string(bulletin_id) + ": " +
                      file.error().message);
  }
  const std::string target = path(bulletin_id);
  if (limit_bytes_ > 0) {
    const auto over = [&] {
      std::error_code ec;
      const std::uint64_t replaced = has(bulletin_id) ? fs::file_size(target, ec) : 0;
      return bytes_used() - (ec ? 0 : replaced) + file->size() > limit_bytes_;
    };
    while (over()) {
      if (evict_one(keep, bulletin_id)) continue;
      set_why(StoreFailure::limit);
      return make_error("cache limit reached (cache-limit-mb, " + std::to_string(limit_bytes_) +
                        " bytes): bulletin " + std::to_string(bulletin_id) + " needs " +
                        std::to_string(file->size()) + " bytes, " + std::to_string(bytes_used()) +
                        " are held by bulletins still scheduled");
    }
  }
  while (true) {
    int err = 0;
    loa::Status s = write_file_atomic(target, *file, &err);
    if (s) return s;
    if (err != ENOSPC && err != EDQUOT) {
      set_why(StoreFailure::other);
      return make_error("cache: bulletin " + std::to_string(bulletin_id) + ": " + s.message());
    }
    // Cached bulletins nobody needs are disposable; anything else on the disk is not ours.
    if (evict_one(keep, bulletin_id)) continue;
    set_why(StoreFailure::disk_full);
    return make_error("disk full: " + target + " (" + s.message() + ")");
  }
}

Result<protocol::OpusStream> Cache::load(std::uint64_t bulletin_id) const {
  const std::string p = path(bulletin_id);
  auto bytes = read_file(p, protocol::kMaxOggFileSize);
  if (!bytes) return bytes.error();
  auto stream = protocol::read_ogg_opus(*bytes);
  if (!stream) return make_error("cache: '" + p + "': " + stream.error().message);
  return std::move(stream).value();
}

std::uint64_t Cache::bytes_used() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (!bulletin_of(entry.path())) continue;
    const auto size = entry.file_size(ec);
    if (!ec) total += size;
  }
  return total;
}

}  // namespace loa::node
