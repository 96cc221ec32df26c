// The request parser of loa::http: Beast's basic_parser with the request stored in a
// loa::http::Request, so that header fields are counted and body bytes are bounded whatever the
// framing (Content-Length, chunked). Header-only, so that a fuzz target can use it alone.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "loa/http/server.hpp"

namespace loa::http {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;

  // A header larger than `max_header_bytes`, or with more than `max_header_count` fields, fails
  // with error::header_limit (too_many_fields() tells which). Parsing stops after the header.
  RequestParser(std::size_t max_header_bytes, std::size_t max_header_count)
      : max_header_count_(max_header_count) {
    header_limit(static_cast<std::uint32_t>(max_header_bytes));
    // Bounded here, per route, once the route is known. (Not boost::none: Beast 1.74 compares a
    // Content-Length with an empty limit as if it were over it.)
    body_limit(std::numeric_limits<std::uint64_t>::max());
    eager(false);
  }

  Request& request() { return req_; }
  const Request& request() const { return req_; }

  // Set after the header: more body bytes than `limit` fail with error::body_limit (a
  // Content-Length over it fails before any body byte is read). nullopt: no limit.
  void set_body_limit(std::optional<std::size_t> limit) { limit_ = limit; }
  // On: body bytes go to pending() (taken by the reader after each read) instead of the body.
  void stream_body(bool on) { streaming_ = on; }
  std::string& pending() { return pending_; }
  std::size_t body_received() const { return received_; }
  bool too_many_fields() const { return too_many_fields_; }
  bool too_large() const { return too_large_; }

 private:
  void on_request_impl(boost::beast::http::verb, string_view method, string_view target, int,
                       error_code&) override {
    req_.method.assign(method.data(), method.size());
    req_.target.assign(target.data(), target.size());
  }
  void on_response_impl(int, string_view, int, error_code& ec) override {
    ec = boost::beast::http::error::bad_version;
  }
  void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                     error_code& ec) override {
    if (++fields_ > max_header_count_) {
      too_many_fields_ = true;
      ec = boost::beast::http::error::header_limit;
      return;
    }
    req_.headers.emplace(std::string(name.data(), name.size()),
                         std::string(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override {
    if (length && limit_ && *length > *limit_) fail(ec);
  }
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t size, string_view, error_code& ec) override {
    if (limit_ && size > *limit_ - received_) fail(ec);
  }
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return take(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  std::size_t take(string_view body, error_code& ec) {
    if (limit_ && body.size() > *limit_ - received_) {
      fail(ec);
      return 0;
    }
    received_ += body.size();
    (streaming_ ? pending_ : req_.body).append(body.data(), body.size());
    return body.size();
  }
  void fail(error_code& ec) {
    too_large_ = true;
    ec = boost::beast::http::error::body_limit;
  }

  std::size_t max_header_count_;
  std::size_t fields_ = 0;
  Request req_;
  std::optional<std::size_t> limit_;
  bool streaming_ = false;
  std::string pending_;
  std::size_t received_ = 0;
  bool too_many_fields_ = false;
  bool too_large_ = false;
};

}  // namespace loa::http
