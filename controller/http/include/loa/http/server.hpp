// A small HTTP/1.1 server (Boost.Beast underneath) that bounds everything a client sends: header
// bytes and count, each route's body whatever its framing (Content-Length, chunked or none),
// the number of connections, and the time a client may take. Routes are a method and a regular
// expression over the path; a route may read its body as a stream of bounded pieces.
//
// Threads: one thread per connection (at most Limits::max_connections), each with its own
// io_context; the pre-routing, route, error, exception and post-routing handlers of a request
// all run on its connection's thread, one request at a time. A handler may block (a database,
// a live stream) without stalling other connections.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "loa/protocol/result.hpp"

namespace loa::http {

struct Limits {
  std::size_t max_body_bytes = 1 << 20;      // a route's body unless it takes Body::large
  std::size_t max_upload_bytes = 64 << 20;   // a Body::large route's body (not a streamed one)
  std::size_t max_header_bytes = 16 * 1024;  // request line and header fields together (431)
  std::size_t max_header_count = 100;        // header fields (431)
  std::size_t max_connections = 64;          // beyond: 503 and close
  // Open connections from one peer address (unless exempt, see Server): beyond, 503 and close.
  std::size_t max_connections_per_address = 16;
  std::chrono::milliseconds header_timeout{10'000};     // the whole header, from its first byte
  std::chrono::milliseconds body_idle_timeout{30'000};  // no body byte (or no write) for this long
  std::size_t min_body_rate = 4096;  // bytes/s on average for a non-streamed body, after the idle
                                     // timeout's grace; also the least rate a response is read at
  std::chrono::milliseconds keep_alive_timeout{5'000};  // idle between requests
};

// Header names compare without case.
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;
using Params = std::multimap<std::string, std::string>;

struct Request {
  std::uint64_t id = 0;  // unique within the server, for handlers that keep per-request state
  std::string method;    // as sent ("GET", "POST", ...)
  std::string target;    // as sent: path and query
  std::string path;      // percent-decoded, without the query
  Params params;         // the query, percent-decoded ('+' is a space)
  Headers headers;
  std::string body;         // empty for a streamed route (read it with the ContentReader)
  std::string remote_addr;  // the peer's address
  int remote_port = 0;
  std::smatch matches;  // the route's expression over `path`

  bool has_header(const std::string& name) const;
  // The first value of `name`, or "".
  std::string get_header_value(const std::string& name) const;
  bool has_param(const std::string& name) const;
  // The first value of `name`, or "".
  std::string get_param_value(const std::string& name) const;
};

struct Response {
  int status = -1;  // -1: not answered yet (200 once a route has run)
  Headers headers;
  std::string body;
  // Why the server itself refused the request (a limit, a malformed request), for the error
  // handler; empty otherwise.
  std::string reason;

  void set_header(const std::string& name, const std::string& value);
  bool has_header(const std::string& name) const;
  std::string get_header_value(const std::string& name) const;
  void set_content(std::string content, const std::string& content_type);
};

// Hands the body of a streamed route to `receiver` piece by piece as it arrives (each piece at
// most 64 KiB); `receiver` returns false to stop reading. Returns true when the whole body was
// received, false when the client went away, was too slow, sent a malformed body, or the
// receiver stopped.
using ContentReceiver = std::function<bool(const char* data, std::size_t size)>;
using ContentReader = std::function<bool(const ContentReceiver& receiver)>;

// Which limit a route's body has: Limits::max_body_bytes or Limits::max_upload_bytes.
enum class Body { small, large };

class Server {
 public:
  enum class HandlerResponse { Handled, Unhandled };
  using Handler = std::function<void(const Request&, Response&)>;
  using StreamHandler = std::function<void(const Request&, Response&, const ContentReader&)>;
  // Runs once the header is read and before the body is: an answer (Handled) is sent without
  // reading the body (the connection then closes if a body was announced).
  using PreRoutingHandler = std::function<HandlerResponse(const Request&, Response&)>;
  using ExceptionHandler = std::function<void(const Request&, Response&, std::exception_ptr)>;

  explicit Server(Limits limits = {});
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes, matched in the order added; the expression must match the whole path. HEAD is
  // answered by the GET routes without the body. Add every route before start().
  void Get(const std::string& pattern, Handler handler);
  void Post(const std::string& pattern, Handler handler, Body body = Body::small);
  // The body is not read before the handler: it reads it with the ContentReader, unbounded in
  // length and time (each piece under Limits::body_idle_timeout), never buffered whole.
  void Post(const std::string& pattern, StreamHandler handler);
  void Put(const std::string& pattern, Handler handler, Body body = Body::small);
  void Patch(const std::string& pattern, Handler handler, Body body = Body::small);
  void Delete(const std::string& pattern, Handler handler, Body body = Body::small);

  void set_pre_routing_handler(PreRoutingHandler handler);
  // After the answer is decided, before it is sent: for every answer to a request whose request
  // line was read, including the server's own refusals (413, 431, 400, 408, 404).
  void set_post_routing_handler(Handler handler);
  // For every answer with status >= 400 before the post-routing handler (the body may be set).
  void set_error_handler(Handler handler);
  void set_exception_handler(ExceptionHandler handler);
  // After the answer was sent (or could not be).
  void set_logger(Handler logger);
  // Peers for which `exempt(address)` holds (a reverse proxy carrying many clients' connections)
  // count toward Limits::max_connections only, not max_connections_per_address. `address` is
  // the peer's address as in Request::remote_addr. Called on the acceptor's thread for each
  // connection; set before start().
  void set_exempt_from_address_limit(std::function<bool(const std::string& address)> exempt);

  // Binds to host:port (port 0: a free port). Returns the bound port, or an error naming the
  // address.
  Result<int> bind(const std::string& host, int port);
  // Accepts on a background thread until stop(). Call after bind().
  void start();
  // Closes the listening socket and every connection (a handler still running finishes; a
  // streamed body's reader then fails), and joins every thread. Idempotent.
  void stop();

  const Limits& limits() const;
  // Open connections now (for tests and health).
  std::size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decodes `text` ('+' is a space when `plus_is_space`); a malformed escape is kept as is.
std::string decode_url(std::string_view text, bool plus_is_space);

}  // namespace loa::http
