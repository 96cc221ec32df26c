// The HTTP JSON API under /api/v1 (docs/api.md), served with cpp-httplib on its own threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "loa/controller/controller.hpp"

namespace loa::controller {

class Access;

class ApiServer {
 public:
  // `controller` (and `access`) must outlive the server. With an Access every request is
  // authenticated and authorized (auth.hpp; the daemon always passes one); without one every
  // caller is trusted, for tests that embed the server in-process.
  ApiServer(Controller& controller, std::size_t max_upload_bytes, Access* access = nullptr);
  ~ApiServer();  // stops
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds to host:port (port 0: a free port). Returns the bound port, or an error naming the
  // address.
  Result<int> bind(const std::string& host, int port);
  // Serves on a background thread until stop(). Call after bind().
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

// Splits "HOST:PORT"; the error names the text.
Result<std::pair<std::string, int>> parse_listen_address(const std::string& text);

}  // namespace loa::controller
