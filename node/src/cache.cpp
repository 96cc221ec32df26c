#include "loa/node/cache.hpp"

#include <filesystem>
#include <system_error>

#include "loa/node/files.hpp"

namespace loa::node {

namespace fs = std::filesystem;

Result<Cache> Cache::open(std::string dir) {
  if (loa::Status s = make_directories(dir); !s) return make_error("cache: " + s.message());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".tmp") fs::remove(entry.path(), ec);
  }
  return Cache(std::move(dir));
}

std::string Cache::path(std::uint64_t bulletin_id) const {
  return (fs::path(dir_) / (std::to_string(bulletin_id) + ".opus")).string();
}

bool Cache::has(std::uint64_t bulletin_id) const {
  std::error_code ec;
  return fs::is_regular_file(path(bulletin_id), ec);
}

loa::Status Cache::store(std::uint64_t bulletin_id, const protocol::OpusStream& stream) const {
  auto file = protocol::write_ogg_opus(stream);
  if (!file)
    return make_error("cache: bulletin " + std::to_string(bulletin_id) + ": " +
                      file.error().message);
  return write_file_atomic(path(bulletin_id), *file);
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
    if (entry.path().extension() != ".opus") continue;
    const auto size = entry.file_size(ec);
    if (!ec) total += size;
  }
  return total;
}

}  // namespace loa::node
