// The HTTP JSON API under /api/v1 (docs/api.md), served by loa::http (a thread per connection).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "loa/controller/config.hpp"
#include "loa/controller/controller.hpp"
#include "loa/http/server.hpp"

namespace loa::controller {

class Access;

class ApiServer {
 public:
  // `controller` (and `access`) must outlive the server. With an Access every request is
  // authenticated and authorized (auth.hpp; the daemon always passes one); without one every
  // caller is trusted, for tests that embed the server in-process.
  ApiServer(Controller& controller, const http::Limits& limits, Access* access = nullptr);
  // The default limits with bodies of uploads up to `max_upload_bytes`.
  ApiServer(Controller& controller, std::size_t max_upload_bytes, Access* access = nullptr);
  ~ApiServer();  // stops
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds to host:port (port 0: a free port). Returns the bound port, or an error naming the
  // address.
  Result<int> bind(const std::string& host, int port);
  // Serves on background threads until stop(). Call after bind().
  void start();
  // Closes every connection and joins every thread (a handler still running finishes first).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The default HTTP limits with bodies of uploads up to `max_upload_bytes`.
http::Limits upload_limits(std::size_t max_upload_bytes);
// The HTTP limits of the config's max-upload-mb and http-* keys; the error names the key that is
// out of range.
Result<http::Limits> http_limits(const ControllerConfig& config);

// Splits "HOST:PORT"; the error names the text.
Result<std::pair<std::string, int>> parse_listen_address(const std::string& text);

}  // namespace loa::controller
