#include "loa/runtime/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace loa::runtime {
namespace {

Error sys_error(const std::string& path, const char* what) {
  return make_error("file '" + path + "': " + what + ": " + std::strerror(errno));
}

}  // namespace

loa::Status write_file_atomic(const std::string& path, protocol::ByteView data, int* error_number) {
  return write_file_atomic(
      path, [&](const WriteFn& write) { return write(data); }, error_number);
}

loa::Status write_file_atomic(const std::string& path,
                              const std::function<loa::Status(const WriteFn& write)>& produce,
                              int* error_number,
                              const std::function<loa::Status(std::uint64_t size)>& before_rename) {
  const std::string tmp = path + ".tmp";
  // Records errno, closes and removes the temporary file: a failed write leaves nothing behind.
  auto fail = [&](int fd, const std::string& name, const char* what) -> Error {
    const int err = errno;
    Error e = sys_error(name, what);
    if (error_number) *error_number = err;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (error_number) *error_number = 0;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(-1, tmp, "open");
  std::uint64_t size = 0;
  int write_errno = 0;
  const WriteFn write = [&](protocol::ByteView data) -> loa::Status {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) errno = ENOSPC;  // a regular file accepts no byte only when there is no room
      if (n <= 0) {
        write_errno = errno;
        return sys_error(tmp, "write");
      }
      done += static_cast<std::size_t>(n);
    }
    size += data.size();
    return {};
  };
  if (loa::Status s = produce(write); !s) {
    if (error_number) *error_number = write_errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::fsync(fd) != 0) return fail(fd, tmp, "fsync");
  // Some file systems report a full disk only when the file is closed.
  if (::close(fd) != 0) return fail(-1, tmp, "close");
  if (before_rename) {
    if (loa::Status s = before_rename(size); !s) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(-1, path, "rename");
  // The rename is durable only once the directory entry is.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::function<Result<std::size_t>(std::uint8_t*, std::size_t)>> file_source(
    const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error(path, "open");
  const auto file = std::shared_ptr<int>(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  return std::function<Result<std::size_t>(std::uint8_t*, std::size_t)>(
      [file, path](std::uint8_t* buffer, std::size_t size) -> Result<std::size_t> {
        for (;;) {
          const ssize_t n = ::read(*file, buffer, size);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) return sys_error(path, "read");
          return static_cast<std::size_t>(n);
        }
      });
}

Result<protocol::Bytes> read_file(const std::string& path, std::size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error(path, "open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = sys_error(path, "stat");
    ::close(fd);
    return e;
  }
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return make_error("file '" + path + "': " + std::to_string(st.st_size) +
                      " bytes, more than the limit " + std::to_string(max_size));
  }
  protocol::Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = sys_error(path, "read");
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

loa::Status make_directories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("directory '" + dir + "': cannot create: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) {
    return make_error("directory '" + dir + "': not a directory");
  }
  return {};
}

}  // namespace loa::runtime
