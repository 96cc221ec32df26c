#include "loa/runtime/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace loa::runtime {
namespace {

Result<std::string> read_trimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("key file '" + path + "': cannot open: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  const auto first = s.find_first_not_of(" \t\r\n");
  const auto last = s.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return make_error("key file '" + path + "': empty");
  return s.substr(first, last - first + 1);
}

Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return make_error("key file '" + path + "': cannot create: " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error("key file '" + path + "': cannot write: " + std::strerror(errno));
  }
  return {};
}

}  // namespace

std::string to_hex(protocol::ByteView bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

Result<protocol::Bytes> from_hex(std::string_view hex, std::size_t size) {
  if (hex.size() != size * 2) {
    return make_error("expected " + std::to_string(size * 2) + " hex digits, found " +
                      std::to_string(hex.size()));
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  protocol::Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error("not a hex digit at position " +
                        std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

Result<protocol::KeyPair> load_or_create_key_pair(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return make_error("key file '" + path + "': " + std::strerror(errno));
    }
    const protocol::KeyPair pair = protocol::KeyPair::generate();
    if (Status s = write_file(path, to_hex(pair.secret_key) + "\n", 0600); !s) {
      return make_error(s.message());
    }
    return pair;
  }
  auto text = read_trimmed(path);
  if (!text) return text.error();
  auto bytes = from_hex(*text, 64);
  if (!bytes) return make_error("key file '" + path + "': " + bytes.error().message);
  protocol::SecretKey secret{};
  std::memcpy(secret.data(), bytes->data(), secret.size());
  protocol::KeyPair pair = protocol::KeyPair::from_secret(secret);
  if (pair.secret_key != secret) {
    return make_error("key file '" + path + "': public half does not match the seed");
  }
  return pair;
}

Result<protocol::PublicKey> load_public_key(const std::string& path) {
  auto text = read_trimmed(path);
  if (!text) return text.error();
  auto bytes = from_hex(*text, 32);
  if (!bytes) return make_error("public key file '" + path + "': " + bytes.error().message);
  protocol::PublicKey key{};
  std::memcpy(key.data(), bytes->data(), key.size());
  return key;
}

Status write_public_key(const std::string& path, const protocol::PublicKey& key) {
  return write_file(path, to_hex(key) + "\n", 0644);
}

}  // namespace loa::runtime
