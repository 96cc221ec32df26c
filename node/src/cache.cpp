#include "loa/node/cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "loa/runtime/files.hpp"
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
  if (loa::Status s = runtime::make_directories(dir); !s)
    return make_error("cache: " + s.message());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    // Left by a crash: a half-written file, or the chunks of an unfinished fetch.
    const auto ext = entry.path().extension();
    if (ext == ".tmp" || ext == ".part") fs::remove(entry.path(), ec);
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

loa::Status Cache::store_file(
    std::uint64_t bulletin_id,
    const std::function<loa::Status(const runtime::WriteFn& write)>& produce,
    const std::set<std::uint64_t>& keep, StoreFailure* why) const {
  auto set_why = [&](StoreFailure f) {
    if (why) *why = f;
  };
  set_why(StoreFailure::none);
  const std::string target = path(bulletin_id);
  while (true) {
    bool over_limit = false;
    // The written file's size is known only now: make room under the limit before the rename.
    const auto make_room = [&](std::uint64_t size) -> loa::Status {
      if (limit_bytes_ == 0) return {};
      const auto over = [&] {
        std::error_code ec;
        const std::uint64_t replaced = has(bulletin_id) ? fs::file_size(target, ec) : 0;
        return bytes_used() - (ec ? 0 : replaced) + size > limit_bytes_;
      };
      while (over()) {
        if (evict_one(keep, bulletin_id)) continue;
        over_limit = true;
        return make_error("cache limit reached (cache-limit-mb, " + std::to_string(limit_bytes_) +
                          " bytes): bulletin " + std::to_string(bulletin_id) + " needs " +
                          std::to_string(size) + " bytes, " + std::to_string(bytes_used()) +
                          " are held by bulletins still scheduled");
      }
      return {};
    };
    int err = 0;
    loa::Status s = runtime::write_file_atomic(target, produce, &err, make_room);
    if (s) return s;
    if (over_limit) {
      set_why(StoreFailure::limit);
      return s;
    }
    if (err != ENOSPC && err != EDQUOT) {
      set_why(StoreFailure::other);
      return make_error("cache: " + s.message());
    }
    // Cached bulletins nobody needs are disposable; anything else on the disk is not ours.
    if (evict_one(keep, bulletin_id)) continue;
    set_why(StoreFailure::disk_full);
    return make_error("disk full: " + target + " (" + s.message() + ")");
  }
}

loa::Status Cache::store(const protocol::BulletinAssembler& assembler, const Spool& spool,
                         const std::set<std::uint64_t>& keep, StoreFailure* why) const {
  return store_file(
      assembler.manifest().bulletin_id,
      [&](const runtime::WriteFn& write) {
        return assembler.write_ogg([&](std::uint32_t i) { return spool.read(i); }, write);
      },
      keep, why);
}

loa::Status Cache::store(std::uint64_t bulletin_id, const protocol::OpusStream& stream,
                         const std::set<std::uint64_t>& keep, StoreFailure* why) const {
  return store_file(
      bulletin_id,
      [&](const runtime::WriteFn& write) -> loa::Status {
        const std::string what = "bulletin " + std::to_string(bulletin_id) + ": ";
        if (stream.packets.empty()) return make_error(what + "ogg write: stream has no packets");
        auto writer = protocol::OggOpusWriter::create(stream, write);
        if (!writer) return make_error(what + writer.error().message);
        for (const protocol::Bytes& packet : stream.packets) {
          if (loa::Status s = writer->add(packet); !s) return make_error(what + s.message());
        }
        if (loa::Status s = writer->finish(); !s) return make_error(what + s.message());
        return {};
      },
      keep, why);
}

Result<CachedAudio> Cache::open_audio(std::uint64_t bulletin_id) const {
  const std::string p = path(bulletin_id);
  // A whole pass first, so that a damaged file fails before its first sample plays.
  auto whole = runtime::file_source(p);
  if (!whole) return whole.error();
  auto info = protocol::check_ogg_opus(std::move(whole).value());
  if (!info) return make_error("cache: '" + p + "': " + info.error().message);
  auto source = runtime::file_source(p);
  if (!source) return source.error();
  auto reader = protocol::OggOpusReader::open(std::move(source).value());
  if (!reader) return make_error("cache: '" + p + "': " + reader.error().message);
  return CachedAudio{*info, std::move(reader).value()};
}

Result<protocol::OpusStream> Cache::load(std::uint64_t bulletin_id) const {
  const std::string p = path(bulletin_id);
  auto bytes = runtime::read_file(p, protocol::kMaxOggFileSize);
  if (!bytes) return bytes.error();
  auto stream = protocol::read_ogg_opus(*bytes);
  if (!stream) return make_error("cache: '" + p + "': " + stream.error().message);
  return std::move(stream).value();
}

Result<Spool> Cache::spool(std::uint64_t bulletin_id) const {
  std::string p = (fs::path(dir_) / (std::to_string(bulletin_id) + ".part")).string();
  const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("file '" + p + "': open: " + std::strerror(errno));
  return Spool(std::move(p), fd);
}

Spool::Spool(Spool&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      end_(other.end_),
      extents_(std::move(other.extents_)) {
  other.path_.clear();
}

Spool& Spool::operator=(Spool&& other) noexcept {
  if (this != &other) {
    Spool gone(std::move(*this));
    path_ = std::move(other.path_);
    other.path_.clear();
    fd_ = std::exchange(other.fd_, -1);
    end_ = other.end_;
    extents_ = std::move(other.extents_);
  }
  return *this;
}

Spool::~Spool() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

loa::Status Spool::add(std::uint32_t index, protocol::ByteView body, int* error_number) {
  if (error_number) *error_number = 0;
  std::size_t done = 0;
  while (done < body.size()) {
    const ssize_t n =
        ::pwrite(fd_, body.data() + done, body.size() - done, static_cast<off_t>(end_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = ENOSPC;
    if (n <= 0) {
      if (error_number) *error_number = errno;
      return make_error("file '" + path_ + "': write: " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (extents_.size() <= index) extents_.resize(std::size_t{index} + 1);
  extents_[index] = Extent{end_, static_cast<std::uint32_t>(body.size())};
  end_ += body.size();
  return {};
}

Result<protocol::Bytes> Spool::read(std::uint32_t index) const {
  if (index >= extents_.size() || extents_[index].size == 0) {
    return make_error("file '" + path_ + "': chunk " + std::to_string(index) + " not spooled");
  }
  const Extent e = extents_[index];
  protocol::Bytes out(e.size);
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(e.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("file '" + path_ + "': read: " + std::strerror(errno));
    if (n == 0)
      return make_error("file '" + path_ + "': chunk " + std::to_string(index) + " cut short");
    done += static_cast<std::size_t>(n);
  }
  return out;
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
