// Verified bulletins on disk: one standard Ogg Opus file per bulletin, "<dir>/<id>.opus".
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "loa/protocol/ogg_opus.hpp"
#include "loa/protocol/result.hpp"

namespace loa::node {

// Why a store() failed: the caller reports all of them, and retries the first two later.
enum class StoreFailure {
  none,
  limit,      // the bulletin does not fit under the cache limit beside the bulletins still needed
  disk_full,  // ENOSPC or EDQUOT on write, fsync or close
  other,
};

// A directory of cached bulletins. Only complete, verified streams are stored (atomically), so a
// file that exists is a whole bulletin. Thread-safe: the state is the file system.
class Cache {
 public:
  // Uses `dir`, creating it if absent, and removes temporary files a crash left behind.
  // `limit_bytes` caps the bytes of cached bulletins (0: no cap but the disk).
  static Result<Cache> open(std::string dir, std::uint64_t limit_bytes = 0);

  const std::string& dir() const { return dir_; }
  std::uint64_t limit_bytes() const { return limit_bytes_; }
  std::string path(std::uint64_t bulletin_id) const;
  bool has(std::uint64_t bulletin_id) const;
  // Writes the stream as an Ogg Opus file (temporary file, fsync, rename). To make room under the
  // limit (or on a full disk) it first removes cached bulletins not in `keep`, oldest first; a
  // bulletin in `keep` is never removed. If it still does not fit it stores nothing (no partial
  // file) and fails: the error names the limit ("cache-limit-mb ...") or says "disk full: <path>",
  // and `why` (if given) tells which.
  loa::Status store(std::uint64_t bulletin_id, const protocol::OpusStream& stream,
                    const std::set<std::uint64_t>& keep = {}, StoreFailure* why = nullptr) const;
  // Reads a cached bulletin back; the error names the file.
  Result<protocol::OpusStream> load(std::uint64_t bulletin_id) const;
  // Bytes used by cached bulletins.
  std::uint64_t bytes_used() const;
  // Cached bulletin ids, oldest (first stored) first.
  std::vector<std::uint64_t> bulletins_oldest_first() const;

 private:
  Cache(std::string dir, std::uint64_t limit_bytes)
      : dir_(std::move(dir)), limit_bytes_(limit_bytes) {}
  // Removes the oldest cached bulletin not in `keep` (nor `storing`); false if there is none.
  bool evict_one(const std::set<std::uint64_t>& keep, std::uint64_t storing) const;

  std::string dir_;
  std::uint64_t limit_bytes_ = 0;
};

}  // namespace loa::node
