#include "loa/controller/catalog.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/keys.hpp"

namespace loa::controller {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIncoming = "incoming-";

std::string system_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

class SystemFiles final : public CatalogFiles {
 public:
  Result<int> create(const std::string& dir, const std::string& prefix,
                     std::string& path) override {
    std::string name = (fs::path(dir) / (prefix + "XXXXXX")).string();
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) return make_error(system_error("cannot create a file in", dir));
    (void)::fchmod(fd, 0644);  // as any file the controller writes (mkostemp makes it 0600)
    path = name;
    return fd;
  }
  Status write(int file, protocol::ByteView bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = ::write(file, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error(std::string("write failed: ") + std::strerror(errno));
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return Status::success();
  }
  Status sync(int file) override {
    if (::fsync(file) != 0) return make_error(std::string("fsync failed: ") + std::strerror(errno));
    return Status::success();
  }
  Status close(int file) override {
    if (::close(file) != 0) return make_error(std::string("close failed: ") + std::strerror(errno));
    return Status::success();
  }
  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return make_error(system_error("cannot rename", from));
    return Status::success();
  }
  Status sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_error(system_error("cannot open the directory", dir));
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
      return make_error("fsync of the directory '" + dir + "' failed: " + std::strerror(err));
    return Status::success();
  }
  void remove(const std::string& path) override { ::unlink(path.c_str()); }
};

}  // namespace

CatalogFiles& system_catalog_files() {
  static SystemFiles files;
  return files;
}

struct NewAudioFile::Hash {
  crypto_hash_sha256_state state;
};

NewAudioFile::NewAudioFile(CatalogFiles& files, std::string dir, std::string path, int fd)
    : files_(files),
      dir_(std::move(dir)),
      path_(std::move(path)),
      fd_(fd),
      hash_(std::make_unique<Hash>()) {
  crypto_hash_sha256_init(&hash_->state);
}

NewAudioFile::~NewAudioFile() {
  if (done_) return;
  if (fd_ >= 0) (void)files_.close(fd_);
  files_.remove(path_);
}

Status NewAudioFile::append(protocol::ByteView bytes) {
  if (done_ || fd_ < 0) return make_error("'" + path_ + "' is closed");
  if (Status s = files_.write(fd_, bytes); !s) {
    return make_error("cannot write '" + path_ + "': " + s.message());
  }
  crypto_hash_sha256_update(&hash_->state, bytes.data(), bytes.size());
  return Status::success();
}

Result<StoredAudio> NewAudioFile::commit() {
  if (done_ || fd_ < 0) return make_error("'" + path_ + "' is closed");
  auto fail = [&](const Status& s) -> Error {
    return make_error("cannot store '" + path_ + "': " + s.message());
  };
  if (Status s = files_.sync(fd_); !s) return fail(s);
  const int fd = std::exchange(fd_, -1);
  if (Status s = files_.close(fd); !s) return fail(s);
  protocol::Digest digest{};
  crypto_hash_sha256_final(&hash_->state, digest.data());
  const std::string hex = runtime::to_hex(protocol::ByteView(digest));
  const std::string path = (fs::path(dir_) / ("bulletin-" + hex.substr(0, 32) + ".ogg")).string();
  if (Status s = files_.rename(path_, path); !s) return fail(s);
  done_ = true;  // the temporary name is gone; what remains is a complete file
  if (Status s = files_.sync_dir(dir_); !s) return fail(s);
  return StoredAudio{path, hex};
}

std::size_t Catalog::remove_incoming() {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().filename().string().rfind(kIncoming, 0) == 0) {
      files_.remove(entry.path().string());
      ++removed;
    }
  }
  return removed;
}

Result<std::unique_ptr<NewAudioFile>> Catalog::create_file() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error("audio directory '" + dir_ + "': " + ec.message());
  std::string path;
  auto fd = files_.create(dir_, kIncoming, path);
  if (!fd) return make_error("audio directory '" + dir_ + "': " + fd.error().message);
  return std::unique_ptr<NewAudioFile>(new NewAudioFile(files_, dir_, path, *fd));
}

Result<StoredAudio> Catalog::store_ogg(protocol::ByteView ogg) {
  auto file = create_file();
  if (!file) return file.error();
  if (Status s = (*file)->append(ogg); !s) return make_error(s.message());
  return (*file)->commit();
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
