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

// The file system calls a catalog makes to write a file durably, so that a test can see their
// order and make one fail. Errors name the path and the system's reason. Thread-safe.
class CatalogFiles {
 public:
  virtual ~CatalogFiles() = default;
  // Creates and opens a new file in `dir` named `prefix` + a unique part; sets `path`.
  virtual Result<int> create(const std::string& dir, const std::string& prefix,
                             std::string& path) = 0;
  virtual Status write(int file, protocol::ByteView bytes) = 0;
  virtual Status sync(int file) = 0;  // the file's data and size on disk
  virtual Status close(int file) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status sync_dir(const std::string& dir) = 0;  // the directory's entries on disk
  virtual void remove(const std::string& path) = 0;
};

// POSIX calls (open, write, fsync, rename...).
CatalogFiles& system_catalog_files();

class Catalog;

// An Ogg file being written into the audio directory under a temporary name. commit() makes it
// durable under its final name; destroyed uncommitted (or after a failure), it is removed, so a
// failed ingest leaves nothing behind. Used by one thread.
class NewAudioFile {
 public:
  ~NewAudioFile();
  NewAudioFile(const NewAudioFile&) = delete;
  NewAudioFile& operator=(const NewAudioFile&) = delete;

  // Appends bytes (hashing them); the error names the file.
  Status append(protocol::ByteView bytes);
  // Writes the file out (fsync), names it bulletin-<SHA-256>.ogg (rename, replacing a file of the
  // same contents) and writes the directory entry out (fsync of the directory): once this
  // returns, the file survives a power cut, and a database row may name it.
  Result<StoredAudio> commit();

 private:
  friend class Catalog;
  NewAudioFile(CatalogFiles& files, std::string dir, std::string path, int fd);

  CatalogFiles& files_;
  std::string dir_;
  std::string path_;
  int fd_;
  bool done_ = false;
  struct Hash;
  std::unique_ptr<Hash> hash_;
};

// Thread-safe.
class Catalog {
 public:
  explicit Catalog(std::string audio_dir, std::size_t cache_entries = 16,
                   CatalogFiles& files = system_catalog_files())
      : dir_(std::move(audio_dir)), cache_entries_(cache_entries), files_(files) {}

  // Removes the temporary files of ingests a crash interrupted (incoming-*); call before any
  // ingest starts. Returns how many.
  std::size_t remove_incoming();
  // A new file in the audio directory (created if needed). The error names the directory.
  Result<std::unique_ptr<NewAudioFile>> create_file();
  // A whole Ogg file in memory through create_file() and commit().
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
  CatalogFiles& files_;
  std::mutex mu_;
  std::list<std::pair<std::uint64_t, std::shared_ptr<const protocol::PackagedBulletin>>> cache_;
};

}  // namespace loa::controller
