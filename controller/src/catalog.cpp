#include "loa/controller/catalog.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/keys.hpp"

namespace loa::controller {

namespace fs = std::filesystem;

Result<StoredAudio> Catalog::store_ogg(protocol::ByteView ogg) {
  const std::string hex = runtime::to_hex(protocol::sha256(ogg));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error("audio directory '" + dir_ + "': " + ec.message());
  const fs::path path = fs::path(dir_) / ("bulletin-" + hex.substr(0, 32) + ".ogg");
  const fs::path tmp = fs::path(path).concat(".tmp");
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(ogg.data()), static_cast<std::streamsize>(ogg.size()));
    f.flush();
    if (!f) return make_error("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, path, ec);
  if (ec) return make_error("cannot rename '" + tmp.string() + "': " + ec.message());
  return StoredAudio{path.string(), hex};
}

Result<protocol::Bytes> Catalog::read_ogg(const BulletinRecord& b) const {
  std::ifstream f(b.ogg_path, std::ios::binary);
  if (!f)
    return make_error("bulletin " + std::to_string(b.id) + ": cannot open '" + b.ogg_path + "'");
  protocol::Bytes bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (runtime::to_hex(protocol::sha256(bytes)) != b.sha256_hex) {
    return make_error("bulletin " + std::to_string(b.id) + ": '" + b.ogg_path +
                      "' does not match its recorded SHA-256");
  }
  return bytes;
}

Result<std::shared_ptr<const protocol::PackagedBulletin>> Catalog::packaged(
    const BulletinRecord& b) {
  {
    std::lock_guard lock(mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->first == b.id) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().second;
      }
    }
  }
  auto ogg = read_ogg(b);
  if (!ogg) return ogg.error();
  auto stream = protocol::read_ogg_opus(*ogg);
  if (!stream)
    return make_error("bulletin " + std::to_string(b.id) + ": " + stream.error().message);
  auto pkg = protocol::package_bulletin(b.id, *stream, b.bitrate, b.frame_ms);
  if (!pkg) return make_error("bulletin " + std::to_string(b.id) + ": " + pkg.error().message);
  auto shared = std::make_shared<const protocol::PackagedBulletin>(std::move(*pkg));
  std::lock_guard lock(mu_);
  cache_.emplace_front(b.id, shared);
  while (cache_.size() > cache_entries_) cache_.pop_back();
  return shared;
}

}  // namespace loa::controller
