// The bulletins' audio on disk: Ogg Opus files in the audio directory, and their packaged form
// (manifest + chunk bodies) derived from those files on demand.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "loa/controller/store.hpp"
#include "loa/protocol/bulletin.hpp"

namespace loa::controller {

struct StoredAudio {
  std::string path;
  std::string sha256_hex;
};

// Thread-safe.
class Catalog {
 public:
  explicit Catalog(std::string audio_dir, std::size_t cache_entries = 16)
      : dir_(std::move(audio_dir)), cache_entries_(cache_entries) {}

  // Writes an Ogg file into the audio directory (created if needed), named by its SHA-256, via a
  // temporary file and rename. The error names the path.
  Result<StoredAudio> store_ogg(protocol::ByteView ogg);
  // The Ogg file of a bulletin, checked against its recorded SHA-256.
  Result<protocol::Bytes> read_ogg(const BulletinRecord& bulletin) const;
  // The bulletin's manifest and chunk bodies, packaged from its Ogg file (cached in memory).
  Result<std::shared_ptr<const protocol::PackagedBulletin>> packaged(
      const BulletinRecord& bulletin);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::size_t cache_entries_;
  std::mutex mu_;
  std::list<std::pair<std::uint64_t, std::shared_ptr<const protocol::PackagedBulletin>>> cache_;
};

}  // namespace loa::controller
