#include "loa/http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "loa/http/request_parser.hpp"

namespace loa::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) <
           std::tolower(static_cast<unsigned char>(y));
  });
}

bool Request::has_header(const std::string& name) const {
  return headers.find(name) != headers.end();
}

std::string Request::get_header_value(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

bool Request::has_param(const std::string& name) const {
  return params.find(name) != params.end();
}

std::string Request::get_param_value(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

void Response::set_header(const std::string& name, const std::string& value) {
  headers.emplace(name, value);
}

bool Response::has_header(const std::string& name) const {
  return headers.find(name) != headers.end();
}

std::string Response::get_header_value(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void Response::set_content(std::string content, const std::string& content_type) {
  body = std::move(content);
  headers.erase("Content-Type");
  headers.emplace("Content-Type", content_type);
}

std::string decode_url(std::string_view text, bool plus_is_space) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

constexpr std::size_t kPiece = 64 * 1024;  // most bytes read from a socket at once
constexpr std::size_t kMaxTarget = 8 * 1024;
constexpr auto kLinger = std::chrono::seconds(1);

struct Route {
  std::string method;
  std::regex pattern;
  Server::Handler handler;
  Server::StreamHandler stream;
  Body body = Body::small;
};

// Splits the request target into the decoded path and query parameters.
void split_target(Request& req) {
  const auto q = req.target.find('?');
  req.path = decode_url(std::string_view(req.target).substr(0, q), false);
  if (q == std::string::npos) return;
  std::string_view query = std::string_view(req.target).substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    if (!part.empty()) {
      const auto eq = part.find('=');
      req.params.emplace(
          decode_url(part.substr(0, eq), true),
          eq == std::string_view::npos ? std::string() : decode_url(part.substr(eq + 1), true));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
}

bool clean_header_text(const std::string& s) {
  return s.find_first_of("\r\n") == std::string::npos;
}

}  // namespace

struct Server::Impl {
  Limits limits;
  std::vector<Route> routes;
  PreRoutingHandler pre_routing;
  Handler post_routing;
  Handler error;
  ExceptionHandler exception;
  Handler logger;
  std::function<bool(const std::string&)> exempt;  // from max_connections_per_address

  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::size_t> open{0};
  std::size_t refusing = 0;  // the acceptor's thread only

  class Connection;
  std::mutex mutex;
  std::list<std::shared_ptr<Connection>> connections;
  std::map<net::ip::address, std::size_t> per_address;  // open connections of each capped peer

  // Declared last: destroying the io_context ends pending refusals, which count in `refusing`.
  net::io_context ioc;  // the acceptor's, and the refusals' beyond the connection limit
  tcp::acceptor acceptor{ioc};
  net::steady_timer retry{ioc};
  std::thread thread;

  explicit Impl(Limits l) : limits(l) {}

  void add(const char* method, const std::string& pattern, Handler h, StreamHandler s, Body b) {
    routes.push_back(Route{method, std::regex(pattern), std::move(h), std::move(s), b});
  }

  const Route* find(Request& req) {
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    for (const auto& r : routes) {
      if (r.method == method && std::regex_match(req.path, req.matches, r.pattern)) return &r;
    }
    req.matches = std::smatch();
    return nullptr;
  }

  // Counts a connection of `peer` unless it already has max_connections_per_address.
  bool claim(const net::ip::address& peer) {
    std::lock_guard lock(mutex);
    auto& n = per_address[peer];
    if (n >= limits.max_connections_per_address) return false;
    ++n;
    return true;
  }
  void release(const net::ip::address& peer) {
    std::lock_guard lock(mutex);
    const auto it = per_address.find(peer);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }

  void accept();
  // `counted`: the peer claimed for the connection, released when it closes.
  void spawn(tcp::socket socket, std::optional<net::ip::address> counted);
  void refuse(tcp::socket socket, std::string why);
  void reap();
};

// One client connection: its own thread and io_context; every read and write runs the
// io_context until that one operation completes or its deadline (tcp_stream's expiry) passes.
class Server::Impl::Connection {
 public:
  explicit Connection(Impl& server) : server_(server), stream_(ioc_) {}

  tcp::socket& socket() { return stream_.socket(); }
  std::thread thread;
  std::atomic<bool> done{false};

  // From another thread: aborts what the connection waits for; it then closes.
  void interrupt() {
    net::post(ioc_, [this] {
      error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.cancel();
    });
  }

  void run() {
    error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_addr_ = peer.address().to_string();
      remote_port_ = peer.port();
    }
    beast::flat_buffer buffer(server_.limits.max_header_bytes + kPiece);
    bool first = true;
    while (!server_.stopping) {
      const bool keep = serve_one(buffer, first);
      first = false;
      if (!keep) break;
    }
    stream_.socket().close(ec);
  }

 private:
  // Runs the io_context until `start`'s operation calls back; returns its error.
  template <typename Start>
  error_code wait(Start&& start) {
    error_code result;
    bool finished = false;
    start([&](error_code ec, std::size_t) {
      result = ec;
      finished = true;
    });
    ioc_.restart();
    while (!finished && ioc_.run_one() > 0) {
    }
    if (!finished) result = net::error::operation_aborted;
    return result;
  }

  error_code read_some(beast::flat_buffer& buffer) {
    return wait([&](auto handler) {
      stream_.async_read_some(buffer.prepare(kPiece),
                              [&buffer, handler](error_code ec, std::size_t n) mutable {
                                buffer.commit(n);
                                handler(ec, n);
                              });
    });
  }

  error_code write(std::string_view text, std::chrono::milliseconds budget) {
    stream_.expires_after(budget);
    return wait([&](auto handler) {
      net::async_write(stream_, net::buffer(text.data(), text.size()), handler);
    });
  }

  // The time a response of `size` bytes may take to be read by the client.
  std::chrono::milliseconds write_budget(std::size_t size) const {
    const auto& l = server_.limits;
    return l.body_idle_timeout +
           std::chrono::milliseconds(size * 1000 / std::max<std::size_t>(l.min_body_rate, 1));
  }

  // Reads the rest of a non-streamed body into the request; a client that pauses longer than
  // the idle timeout, or averages less than the minimum rate, fails with beast's timeout.
  error_code read_body(RequestParser& parser, beast::flat_buffer& buffer) {
    const auto& l = server_.limits;
    const auto start = Clock::now();
    while (!parser.is_done()) {
      const auto by_rate = start + l.body_idle_timeout +
                           std::chrono::milliseconds(parser.body_received() * 1000 /
                                                     std::max<std::size_t>(l.min_body_rate, 1));
      stream_.expires_at(std::min(Clock::now() + l.body_idle_timeout, by_rate));
      if (auto ec = read_body_some(parser, buffer)) return ec;
    }
    return {};
  }

  error_code read_body_some(RequestParser& parser, beast::flat_buffer& buffer) {
    return wait([&](auto handler) { bhttp::async_read_some(stream_, buffer, parser, handler); });
  }

  void send_continue(RequestParser& parser, bool& sent) {
    if (sent || parser.is_done()) return;
    sent = true;
    std::string expect = parser.request().get_header_value("Expect");
    std::transform(expect.begin(), expect.end(), expect.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (expect == "100-continue") {
      (void)write("HTTP/1.1 100 Continue\r\n\r\n", server_.limits.body_idle_timeout);
    }
  }

  // The answer to a body that could not be read; empty when the client simply went away.
  static std::optional<std::pair<int, std::string>> body_failure(const RequestParser& parser,
                                                                 const error_code& ec,
                                                                 std::size_t limit) {
    if (parser.too_large() || ec == bhttp::error::body_limit) {
      return std::make_pair(
          413, "body: larger than this endpoint's limit of " + std::to_string(limit) + " bytes");
    }
    if (ec == beast::error::timeout) {
      return std::make_pair(408, std::string("body: the client sent too slowly"));
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return std::nullopt;
    }
    return std::make_pair(400, "body: malformed (" + ec.message() + ")");
  }

  // Serves one request. Returns whether the connection may carry another.
  bool serve_one(beast::flat_buffer& buffer, bool first) {
    const auto& l = server_.limits;
    // Idle until the request's first byte (keep-alive), then the whole header within its time.
    if (buffer.size() == 0) {
      stream_.expires_after(first ? l.header_timeout : l.keep_alive_timeout);
      if (read_some(buffer)) return false;
    }
    RequestParser parser(l.max_header_bytes, l.max_header_count);
    stream_.expires_after(l.header_timeout);
    const error_code header_ec =
        wait([&](auto handler) { bhttp::async_read_header(stream_, buffer, parser, handler); });
    Request& req = parser.request();
    req.id = server_.next_id++;
    req.remote_addr = remote_addr_;
    req.remote_port = remote_port_;
    Response res;
    if (header_ec) {
      if (header_ec == bhttp::error::end_of_stream || header_ec == net::error::eof ||
          header_ec == net::error::connection_reset || header_ec == net::error::operation_aborted) {
        return false;
      }
      if (parser.too_many_fields()) {
        refuse(res, 431,
               "header: more than " + std::to_string(l.max_header_count) + " header fields");
      } else if (header_ec == bhttp::error::header_limit ||
                 header_ec == bhttp::error::buffer_overflow) {
        refuse(res, 431, "header: more than " + std::to_string(l.max_header_bytes) + " bytes");
      } else if (header_ec == beast::error::timeout) {
        refuse(res, 408, "header: not received within the time allowed");
      } else {
        refuse(res, 400, "header: malformed (" + header_ec.message() + ")");
      }
      if (req.target.size() <= kMaxTarget) split_target(req);
      finish(req, res, false, parser);
      return false;
    }
    if (req.target.size() > kMaxTarget) {
      refuse(res, 414, "target: more than " + std::to_string(kMaxTarget) + " bytes");
      finish(req, res, false, parser);
      return false;
    }
    split_target(req);
    const bool keep_alive = parser.keep_alive();
    const Route* route = server_.find(req);
    bool continued = false;

    if (server_.pre_routing && run_handler(req, res, [&] {
          return server_.pre_routing(req, res) == HandlerResponse::Handled;
        })) {
      return finish(req, res, keep_alive && parser.is_done(), parser);
    }
    if (route && route->stream) {
      parser.stream_body(true);
      parser.set_body_limit(std::nullopt);
      const ContentReader reader = [&](const ContentReceiver& receiver) {
        send_continue(parser, continued);
        for (;;) {
          std::string& pending = parser.pending();
          for (std::size_t at = 0; at < pending.size(); at += kPiece) {
            if (!receiver(pending.data() + at, std::min(kPiece, pending.size() - at))) {
              pending.clear();
              return false;
            }
          }
          pending.clear();
          if (parser.is_done()) return true;
          stream_.expires_after(l.body_idle_timeout);
          if (read_body_some(parser, buffer)) return false;
        }
      };
      run_handler(req, res, [&] {
        route->stream(req, res, reader);
        return true;
      });
      if (res.status == -1) res.status = 200;
      return finish(req, res, keep_alive && parser.is_done(), parser);
    }
    // A body is read whole, within the route's limit (an unknown route's: the small one).
    const std::size_t limit =
        route && route->body == Body::large ? l.max_upload_bytes : l.max_body_bytes;
    parser.set_body_limit(limit);
    const auto announced = parser.content_length();
    const error_code ec = announced && *announced > limit
                              ? error_code(bhttp::error::body_limit)
                              : (send_continue(parser, continued), read_body(parser, buffer));
    if (ec) {
      const auto failure = body_failure(parser, ec, limit);
      if (!failure) return false;
      refuse(res, failure->first, failure->second);
      return finish(req, res, false, parser);
    }
    if (!route) {
      res.status = 404;
    } else {
      run_handler(req, res, [&] {
        route->handler(req, res);
        return true;
      });
      if (res.status == -1) res.status = 200;
    }
    return finish(req, res, keep_alive, parser);
  }

  static void refuse(Response& res, int status, std::string reason) {
    res.status = status;
    res.reason = std::move(reason);
    res.body.clear();
  }

  // Runs a handler; an exception becomes the exception handler's answer (500 if none).
  template <typename Fn>
  bool run_handler(const Request& req, Response& res, Fn&& fn) {
    try {
      return fn();
    } catch (...) {
      res = Response{};
      res.status = 500;
      if (server_.exception) {
        try {
          server_.exception(req, res, std::current_exception());
        } catch (...) {
        }
      }
      return true;
    }
  }

  // Sends the answer (error handler, post-routing handler, logger). Returns whether the
  // connection stays open: `keep`, unless the answer says "Connection: close" or cannot be sent.
  bool finish(const Request& req, Response& res, bool keep, const RequestParser& parser) {
    if (res.status == -1) res.status = 404;
    if (res.status >= 400 && server_.error) {
      run_handler(req, res, [&] {
        server_.error(req, res);
        return true;
      });
    }
    if (res.status >= 400 && res.body.empty() && !res.reason.empty()) {
      res.set_content(res.reason + "\n", "text/plain; charset=utf-8");
    }
    if (!req.method.empty() && server_.post_routing) {
      run_handler(req, res, [&] {
        server_.post_routing(req, res);
        return true;
      });
    }
    std::string connection = res.get_header_value("Connection");
    std::transform(connection.begin(), connection.end(), connection.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (connection == "close" || server_.stopping) keep = false;
    const auto status = static_cast<unsigned>(res.status);
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                       std::string(bhttp::obsolete_reason(bhttp::int_to_status(status))) + "\r\n";
    for (const auto& [name, value] : res.headers) {
      if (!clean_header_text(name) || !clean_header_text(value)) continue;
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Connection") ||
          beast::iequals(name, "Transfer-Encoding")) {
        continue;
      }
      head += name + ": " + value + "\r\n";
    }
    head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    head += keep ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    const bool with_body = req.method != "HEAD";
    const std::size_t size = head.size() + (with_body ? res.body.size() : 0);
    stream_.expires_after(write_budget(size));
    const error_code ec = wait([&](auto handler) {
      const std::array<net::const_buffer, 2> buffers{
          net::buffer(head), with_body ? net::buffer(res.body) : net::const_buffer()};
      net::async_write(stream_, buffers, handler);
    });
    if (server_.logger) {
      run_handler(req, res, [&] {
        server_.logger(req, res);
        return true;
      });
    }
    if (ec) return false;
    if (!keep && !parser.is_done()) linger();
    return keep;
  }

  // Before closing a connection whose request was not read whole: stop sending, then discard
  // what the client still sends for a moment, so that closing does not reset the connection
  // before the client has read the answer.
  void linger() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(kLinger);
    std::array<char, 4096> scratch{};
    while (!server_.stopping) {
      const error_code read_ec =
          wait([&](auto handler) { stream_.async_read_some(net::buffer(scratch), handler); });
      if (read_ec) break;
    }
  }

  Impl& server_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  std::string remote_addr_;
  int remote_port_ = 0;
};

void Server::Impl::accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      // Out of descriptors and the like: try again shortly rather than spin.
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](error_code) {
        if (!stopping) accept();
      });
      return;
    }
    reap();
    error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec).address();
    const bool capped = !peer_ec && !(exempt && exempt(peer.to_string()));
    if (peer_ec) {
      // The client has gone already.
    } else if (open >= limits.max_connections) {
      refuse(std::move(socket),
             "too many connections (limit " + std::to_string(limits.max_connections) + ")");
    } else if (capped && !claim(peer)) {
      refuse(std::move(socket), "too many connections from " + peer.to_string() + " (limit " +
                                    std::to_string(limits.max_connections_per_address) + ")");
    } else {
      spawn(std::move(socket), capped ? std::optional(peer) : std::nullopt);
    }
    accept();
  });
}

void Server::Impl::spawn(tcp::socket socket, std::optional<net::ip::address> counted) {
  auto c = std::make_shared<Connection>(*this);
  error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (!ec) c->socket().assign(protocol, socket.release(), ec);
  if (ec) {
    if (counted) release(*counted);
    return;
  }
  ++open;
  Connection* raw = c.get();
  std::lock_guard lock(mutex);
  connections.push_back(c);
  raw->thread = std::thread([this, raw, counted] {
    raw->run();
    if (counted) release(*counted);
    --open;
    raw->done = true;
  });
}

namespace {

// A connection beyond a connection limit: 503 saying `why`, then what the client sends is discarded
// for a moment (closing at once could reset the connection before the client reads the answer),
// then closed; on the acceptor's thread.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket socket, const std::string& why, std::size_t& count)
      : socket_(std::move(socket)), timer_(socket_.get_executor(), kLinger), count_(count) {
    ++count_;
    const std::string body = why + "\n";
    text_ =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  ~Refusal() { --count_; }

  void start() {
    auto self = shared_from_this();
    timer_.async_wait([self](error_code ec) {
      if (!ec) self->socket_.close(ec);
    });
    net::async_write(socket_, net::buffer(text_), [self](error_code, std::size_t) {
      error_code ec;
      self->socket_.shutdown(tcp::socket::shutdown_send, ec);
      self->drain();
    });
  }

 private:
  void drain() {
    auto self = shared_from_this();
    socket_.async_read_some(net::buffer(scratch_), [self](error_code ec, std::size_t) {
      if (!ec) return self->drain();
      self->timer_.cancel();
    });
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  std::size_t& count_;
  std::string text_;
  std::array<char, 1024> scratch_{};
};

}  // namespace

// At most max_connections refusals are pending; beyond, a plain close.
void Server::Impl::refuse(tcp::socket socket, std::string why) {
  if (refusing >= limits.max_connections) return;
  std::make_shared<Refusal>(std::move(socket), why, refusing)->start();
}

void Server::Impl::reap() {
  std::lock_guard lock(mutex);
  for (auto it = connections.begin(); it != connections.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = connections.erase(it);
    } else {
      ++it;
    }
  }
}

Server::Server(Limits limits) : impl_(std::make_unique<Impl>(limits)) {}

Server::~Server() {
  stop();
}

void Server::Get(const std::string& pattern, Handler handler) {
  impl_->add("GET", pattern, std::move(handler), nullptr, Body::small);
}
void Server::Post(const std::string& pattern, Handler handler, Body body) {
  impl_->add("POST", pattern, std::move(handler), nullptr, body);
}
void Server::Post(const std::string& pattern, StreamHandler handler) {
  impl_->add("POST", pattern, nullptr, std::move(handler), Body::large);
}
void Server::Put(const std::string& pattern, Handler handler, Body body) {
  impl_->add("PUT", pattern, std::move(handler), nullptr, body);
}
void Server::Patch(const std::string& pattern, Handler handler, Body body) {
  impl_->add("PATCH", pattern, std::move(handler), nullptr, body);
}
void Server::Delete(const std::string& pattern, Handler handler, Body body) {
  impl_->add("DELETE", pattern, std::move(handler), nullptr, body);
}

void Server::set_pre_routing_handler(PreRoutingHandler handler) {
  impl_->pre_routing = std::move(handler);
}
void Server::set_post_routing_handler(Handler handler) {
  impl_->post_routing = std::move(handler);
}
void Server::set_error_handler(Handler handler) {
  impl_->error = std::move(handler);
}
void Server::set_exception_handler(ExceptionHandler handler) {
  impl_->exception = std::move(handler);
}
void Server::set_logger(Handler logger) {
  impl_->logger = std::move(logger);
}
void Server::set_exempt_from_address_limit(std::function<bool(const std::string&)> exempt) {
  impl_->exempt = std::move(exempt);
}

const Limits& Server::limits() const {
  return impl_->limits;
}

std::size_t Server::connections() const {
  return impl_->open;
}

Result<int> Server::bind(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  error_code ec;
  tcp::resolver resolver(impl_->ioc);
  const auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || found.empty()) {
    return make_error("listen: cannot resolve " + where + " (" + ec.message() + ")");
  }
  const tcp::endpoint endpoint = found.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    a.close(ignored);
    return make_error("listen: cannot bind " + where + " (" + ec.message() + ")");
  }
  return static_cast<int>(a.local_endpoint(ec).port());
}

void Server::start() {
  if (impl_->thread.joinable() || !impl_->acceptor.is_open()) return;
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void Server::stop() {
  impl_->stopping = true;
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  error_code ec;
  impl_->acceptor.close(ec);
  std::list<std::shared_ptr<Impl::Connection>> all;
  {
    std::lock_guard lock(impl_->mutex);
    all.swap(impl_->connections);
  }
  for (auto& c : all) c->interrupt();
  for (auto& c : all) {
    if (c->thread.joinable()) c->thread.join();
  }
}

}  // namespace loa::http
