// A plain TCP connection to a server on 127.0.0.1, for tests that send what an HTTP client would
// not (a header of a megabyte, a thousand fields, a byte a second, an endless chunked body).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

namespace loa::test {

class RawConnection {
 public:
  // `from`: the loopback address to connect from ("127.0.0.2"); null: the system's choice.
  explicit RawConnection(int port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && from) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      if (::inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
          ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all of `data`; false once the peer has closed or reset the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Whether something (bytes or the peer's close) can be read within `timeout`.
  bool readable(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  // What arrives until the peer closes (or resets), or nothing comes for `idle`.
  std::string read_until_close(std::chrono::milliseconds idle = std::chrono::seconds(10)) {
    std::string out;
    char buf[4096];
    while (readable(idle)) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // One response: its header and a Content-Length body ("" if none came within `idle`).
  std::string read_response(std::chrono::milliseconds idle = std::chrono::seconds(10)) {
    std::string out;
    char c;
    while (out.find("\r\n\r\n") == std::string::npos && readable(idle) &&
           ::recv(fd_, &c, 1, 0) == 1) {
      out += c;
    }
    const auto cl = out.find("Content-Length: ");
    if (cl == std::string::npos) return out;
    std::size_t left = std::stoul(out.substr(cl + 16));
    char buf[4096];
    while (left > 0 && readable(idle)) {
      const ssize_t n = ::recv(fd_, buf, std::min(left, sizeof buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      left -= static_cast<std::size_t>(n);
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// The status code of a response's first line ("HTTP/1.1 413 ..." -> 413), or 0.
inline int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

}  // namespace loa::test
