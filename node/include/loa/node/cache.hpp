// Verified bulletins on disk: one standard Ogg Opus file per bulletin, "<dir>/<id>.opus", and
// the chunks of those still being fetched.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "loa/protocol/bulletin.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/protocol/result.hpp"
#include "loa/runtime/files.hpp"

namespace loa::node {

// Why a store() failed: the caller reports all of them, and retries the first two later.
enum class StoreFailure {
  none,
  limit,      // the bulletin does not fit under the cache limit beside the bulletins still needed
  disk_full,  // ENOSPC or EDQUOT on write, fsync or close
  other,
};

// The verified chunk bodies of a bulletin being fetched, appended to "<cache dir>/<id>.part" as
// they come: a node holds none of a bulletin's audio in memory while fetching it, however long
// the bulletin (docs/architecture.md, "Node memory"). The file is removed with the spool; one
// left by a crash is removed when the cache opens (its chunks are fetched again).
class Spool {
 public:
  Spool(Spool&& other) noexcept;
  Spool& operator=(Spool&& other) noexcept;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool();

  // Appends chunk `index`; `error_number` (if given) receives errno on failure (ENOSPC: full).
  loa::Status add(std::uint32_t index, protocol::ByteView body, int* error_number = nullptr);
  // A chunk added before; the error names the file.
  Result<protocol::Bytes> read(std::uint32_t index) const;

 private:
  friend class Cache;
  Spool(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  struct Extent {
    std::uint64_t offset = 0;
    std::uint32_t size = 0;
  };
  std::string path_;
  int fd_ = -1;
  std::uint64_t end_ = 0;
  std::vector<Extent> extents_;  // by chunk index; size 0: not here
};

// A cached bulletin opened for playing: its info (checked through the whole file) and its packets,
// read from the file a page at a time.
struct CachedAudio {
  protocol::OpusStreamInfo info;
  protocol::OggOpusReader packets;
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
  // A new spool for a bulletin being fetched ("<dir>/<id>.part", emptied if it exists).
  Result<Spool> spool(std::uint64_t bulletin_id) const;
  // Writes the bulletin whose chunks `assembler` has seen all of, from `spool`, as an Ogg Opus
  // file a page at a time (temporary file, fsync, rename). To make room under the
  // limit (or on a full disk) it first removes cached bulletins not in `keep`, oldest first; a
  // bulletin in `keep` is never removed. If it still does not fit it stores nothing (no partial
  // file) and fails: the error names the limit ("cache-limit-mb ...") or says "disk full: <path>",
  // and `why` (if given) tells which.
  loa::Status store(const protocol::BulletinAssembler& assembler, const Spool& spool,
                    const std::set<std::uint64_t>& keep = {}, StoreFailure* why = nullptr) const;
  // The same from a stream in memory (test tones, tests).
  loa::Status store(std::uint64_t bulletin_id, const protocol::OpusStream& stream,
                    const std::set<std::uint64_t>& keep = {}, StoreFailure* why = nullptr) const;
  // Opens a cached bulletin for playing; the error names the file and what is wrong with it.
  Result<CachedAudio> open_audio(std::uint64_t bulletin_id) const;
  // Reads a cached bulletin back whole (tests); the error names the file.
  Result<protocol::OpusStream> load(std::uint64_t bulletin_id) const;
  // Bytes used by cached bulletins.
  std::uint64_t bytes_used() const;
  // Cached bulletin ids, oldest (first stored) first.
  std::vector<std::uint64_t> bulletins_oldest_first() const;
  // Removes the oldest cached bulletin not in `keep` (nor `storing`); false if there is none.
  bool evict_one(const std::set<std::uint64_t>& keep, std::uint64_t storing) const;

 private:
  Cache(std::string dir, std::uint64_t limit_bytes)
      : dir_(std::move(dir)), limit_bytes_(limit_bytes) {}
  // What both store()s do around `produce`, which writes the file's bytes.
  loa::Status store_file(std::uint64_t bulletin_id,
                         const std::function<loa::Status(const runtime::WriteFn& write)>& produce,
                         const std::set<std::uint64_t>& keep, StoreFailure* why) const;

  std::string dir_;
  std::uint64_t limit_bytes_ = 0;
};

}  // namespace loa::node
