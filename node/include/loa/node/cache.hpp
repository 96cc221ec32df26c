// Verified bulletins on disk: one standard Ogg Opus file per bulletin, "<dir>/<id>.opus".
#pragma once

#include <cstdint>
#include <string>

#include "loa/protocol/ogg_opus.hpp"
#include "loa/protocol/result.hpp"

namespace loa::node {

// A directory of cached bulletins. Only complete, verified streams are stored (atomically), so a
// file that exists is a whole bulletin. Thread-safe: the state is the file system.
class Cache {
 public:
  // Uses `dir`, creating it if absent, and removes temporary files a crash left behind.
  static Result<Cache> open(std::string dir);

  const std::string& dir() const { return dir_; }
  std::string path(std::uint64_t bulletin_id) const;
  bool has(std::uint64_t bulletin_id) const;
  // Writes the stream as an Ogg Opus file (temporary file, fsync, rename).
  loa::Status store(std::uint64_t bulletin_id, const protocol::OpusStream& stream) const;
  // Reads a cached bulletin back; the error names the file.
  Result<protocol::OpusStream> load(std::uint64_t bulletin_id) const;
  // Bytes used by cached bulletins.
  std::uint64_t bytes_used() const;

 private:
  explicit Cache(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace loa::node
