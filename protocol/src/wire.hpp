// Bounds-checked big-endian writing and reading of message bodies. Private to loa::protocol.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "loa/protocol/messages.hpp"

namespace loa::protocol::wire {

// Aborts the process: a caller broke a documented precondition (never used for outside data).
[[noreturn]] void contract_violation(const char* what);

// Calls sodium_init() once, thread-safely; aborts if libsodium cannot start.
void ensure_sodium();

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool is_utf8(std::string_view text);

// Appends big-endian values to a byte vector. Lengths beyond their caps are contract violations.
class Writer {
 public:
  explicit Writer(std::size_t reserve = 0) { buf_.reserve(reserve); }

  void u8(std::uint8_t v) { buf_.push_back(v); }
  void u16(std::uint16_t v) { be(v, 2); }
  void u32(std::uint32_t v) { be(v, 4); }
  void u64(std::uint64_t v) { be(v, 8); }
  void i64(std::int64_t v) { be(static_cast<std::uint64_t>(v), 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void raw(ByteView bytes) { buf_.insert(buf_.end(), bytes.begin(), bytes.end()); }
  // u16 length + bytes; aborts beyond `cap` (always <= 65535).
  void str16(std::string_view text, std::size_t cap);
  // u16 length + bytes; aborts beyond `cap`.
  void blob16(ByteView bytes, std::size_t cap);
  // u16 or u32 element count; aborts beyond `cap`.
  void count16(std::size_t n, std::size_t cap);
  void count32(std::size_t n, std::size_t cap);

  std::size_t size() const { return buf_.size(); }
  Bytes& bytes() { return buf_; }
  Bytes take() { return std::move(buf_); }

 private:
  void be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) buf_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes buf_;
};

// Reads big-endian values from a byte span. The first failure sticks: later reads return zero
// values and do not move, and finish() reports that first failure as
// "<message>: <field>: <what> at offset <n>".
class Reader {
 public:
  Reader(ByteView data, const char* message) : data_(data), message_(message) {}

  std::uint8_t u8(const char* field);
  std::uint16_t u16(const char* field);
  std::uint32_t u32(const char* field);
  std::uint64_t u64(const char* field);
  std::int64_t i64(const char* field) { return static_cast<std::int64_t>(u64(field)); }
  // One byte that must be 0 or 1.
  bool boolean(const char* field);
  // One byte that must be at most `max_value` (the highest known enum value).
  std::uint8_t enum8(const char* field, std::uint8_t max_value);
  // One byte that must be at most `max_value`, named as a limit rather than an enum.
  std::uint8_t bounded8(const char* field, std::uint8_t max_value);
  void raw(std::span<std::uint8_t> out, const char* field);
  // u16 length (at most `cap`) + UTF-8 bytes.
  std::string str16(const char* field, std::size_t cap);
  // Like str16, then validate_node_id.
  std::string node_id(const char* field);
  // Like str16 (cap kMaxScopeLength), then validate_scope.
  std::string scope(const char* field);
  // u16 length in [min, cap] + bytes.
  Bytes blob16(const char* field, std::size_t min, std::size_t cap);
  // u16 / u32 element count in [min, cap]; also refuses counts whose minimal encoding
  // (`min_item_size` bytes each) cannot fit in the bytes left.
  std::size_t count16(const char* field, std::size_t min, std::size_t cap,
                      std::size_t min_item_size);
  std::size_t count32(const char* field, std::size_t min, std::size_t cap,
                      std::size_t min_item_size);

  // Names the list item being read: fields then print as "list[index].field", and an empty
  // field prints as "list[index]".
  void item(const char* list, std::size_t index) {
    list_ = list;
    index_ = index;
  }
  void end_items() { list_ = nullptr; }

  // Records a failure of `field` at byte `offset` (only the first one is kept).
  void fail(const char* field, const std::string& what, std::size_t offset);
  bool failed() const { return failed_; }
  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }

  // The value if every read succeeded and no byte is left over, else the first failure.
  template <typename T>
  Result<T> finish(T value) {
    if (!failed_ && pos_ != data_.size()) {
      error_ = std::string(message_) + ": " + std::to_string(data_.size() - pos_) +
               " trailing bytes at offset " + std::to_string(pos_);
      failed_ = true;
    }
    if (failed_) return make_error(error_);
    return value;
  }

 private:
  bool need(std::size_t n, const char* field);
  std::uint64_t be(std::size_t n, const char* field);
  std::size_t count(std::size_t width, const char* field, std::size_t min, std::size_t cap,
                    std::size_t min_item_size);

  ByteView data_;
  const char* message_;
  std::size_t pos_ = 0;
  const char* list_ = nullptr;
  std::size_t index_ = 0;
  bool failed_ = false;
  std::string error_;
};

}  // namespace loa::protocol::wire
