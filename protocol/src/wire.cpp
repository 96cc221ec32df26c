#include "wire.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace loa::protocol::wire {

void contract_violation(const char* what) {
  std::fprintf(stderr, "loa::protocol contract violation: %s\n", what);
  std::abort();
}

void ensure_sodium() {
  static const int started = sodium_init();  // thread-safe one-time initialisation
  if (started < 0) contract_violation("sodium_init failed");
}

bool is_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

void Writer::str16(std::string_view text, std::size_t cap) {
  if (text.size() > cap || text.size() > 0xffff) contract_violation("string longer than its cap");
  u16(static_cast<std::uint16_t>(text.size()));
  buf_.insert(buf_.end(), text.begin(), text.end());
}

void Writer::blob16(ByteView bytes, std::size_t cap) {
  if (bytes.size() > cap || bytes.size() > 0xffff) contract_violation("blob longer than its cap");
  u16(static_cast<std::uint16_t>(bytes.size()));
  raw(bytes);
}

void Writer::count16(std::size_t n, std::size_t cap) {
  if (n > cap || n > 0xffff) contract_violation("list longer than its cap");
  u16(static_cast<std::uint16_t>(n));
}

void Writer::count32(std::size_t n, std::size_t cap) {
  if (n > cap || n > 0xffffffffu) contract_violation("list longer than its cap");
  u32(static_cast<std::uint32_t>(n));
}

void Reader::fail(const char* field, const std::string& what, std::size_t offset) {
  if (failed_) return;
  failed_ = true;
  error_ = message_;
  error_ += ": ";
  if (list_ != nullptr) {
    error_ += list_;
    error_ += '[';
    error_ += std::to_string(index_);
    error_ += ']';
    if (field != nullptr && *field != '\0') error_ += '.';
  }
  if (field != nullptr) error_ += field;
  error_ += ": ";
  error_ += what;
  error_ += " at offset ";
  error_ += std::to_string(offset);
}

bool Reader::need(std::size_t n, const char* field) {
  if (failed_) return false;
  if (remaining() < n) {
    fail(field,
         "truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) +
             " left",
         pos_);
    return false;
  }
  return true;
}

std::uint64_t Reader::be(std::size_t n, const char* field) {
  if (!need(n, field)) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
  pos_ += n;
  return v;
}

std::uint8_t Reader::u8(const char* field) {
  return static_cast<std::uint8_t>(be(1, field));
}
std::uint16_t Reader::u16(const char* field) {
  return static_cast<std::uint16_t>(be(2, field));
}
std::uint32_t Reader::u32(const char* field) {
  return static_cast<std::uint32_t>(be(4, field));
}
std::uint64_t Reader::u64(const char* field) {
  return be(8, field);
}

bool Reader::boolean(const char* field) {
  const std::size_t at = pos_;
  const std::uint8_t v = u8(field);
  if (v > 1) fail(field, "invalid boolean " + std::to_string(v) + " (0 or 1)", at);
  return v == 1;
}

std::uint8_t Reader::enum8(const char* field, std::uint8_t max_value) {
  const std::size_t at = pos_;
  const std::uint8_t v = u8(field);
  if (v > max_value) fail(field, "unknown value " + std::to_string(v), at);
  return v;
}

std::uint8_t Reader::bounded8(const char* field, std::uint8_t max_value) {
  const std::size_t at = pos_;
  const std::uint8_t v = u8(field);
  if (v > max_value) {
    fail(field, "value " + std::to_string(v) + " above " + std::to_string(max_value), at);
  }
  return v;
}

void Reader::raw(std::span<std::uint8_t> out, const char* field) {
  if (!need(out.size(), field)) return;
  std::memcpy(out.data(), data_.data() + pos_, out.size());
  pos_ += out.size();
}

std::string Reader::str16(const char* field, std::size_t cap) {
  const std::size_t at = pos_;
  const std::uint16_t len = u16(field);
  if (failed_) return {};
  if (len > cap) {
    fail(field, "length " + std::to_string(len) + " exceeds limit " + std::to_string(cap), at);
    return {};
  }
  if (!need(len, field)) return {};
  std::string text(reinterpret_cast<const char*>(data_.data() + pos_), len);
  if (!is_utf8(text)) {
    fail(field, "not valid UTF-8", pos_);
    return {};
  }
  pos_ += len;
  return text;
}

std::string Reader::node_id(const char* field) {
  const std::size_t at = pos_;
  std::string id = str16(field, kMaxIdLength);
  if (failed_) return {};
  const auto valid = validate_node_id(id);
  if (!valid) fail(field, valid.message(), at);
  return id;
}

std::string Reader::scope(const char* field) {
  const std::size_t at = pos_;
  std::string text = str16(field, kMaxScopeLength);
  if (failed_) return {};
  const auto valid = validate_scope(text);
  if (!valid) fail(field, valid.message(), at);
  return text;
}

Bytes Reader::blob16(const char* field, std::size_t min, std::size_t cap) {
  const std::size_t at = pos_;
  const std::uint16_t len = u16(field);
  if (failed_) return {};
  if (len > cap) {
    fail(field, "length " + std::to_string(len) + " exceeds limit " + std::to_string(cap), at);
    return {};
  }
  if (len < min) {
    fail(field, "length " + std::to_string(len) + " below minimum " + std::to_string(min), at);
    return {};
  }
  if (!need(len, field)) return {};
  Bytes out(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
            data_.begin() + static_cast<std::ptrdiff_t>(pos_ + len));
  pos_ += len;
  return out;
}

std::size_t Reader::count(std::size_t width, const char* field, std::size_t min, std::size_t cap,
                          std::size_t min_item_size) {
  const std::size_t at = pos_;
  const std::uint64_t n = be(width, field);
  if (failed_) return 0;
  if (n > cap) {
    fail(field, "count " + std::to_string(n) + " exceeds limit " + std::to_string(cap), at);
    return 0;
  }
  if (n < min) {
    fail(field, "count " + std::to_string(n) + " below minimum " + std::to_string(min), at);
    return 0;
  }
  if (n * min_item_size > remaining()) {
    fail(field,
         "truncated: count " + std::to_string(n) + " needs at least " +
             std::to_string(n * min_item_size) + " bytes, " + std::to_string(remaining()) + " left",
         at);
    return 0;
  }
  return static_cast<std::size_t>(n);
}

std::size_t Reader::count16(const char* field, std::size_t min, std::size_t cap,
                            std::size_t min_item_size) {
  return count(2, field, min, cap, min_item_size);
}

std::size_t Reader::count32(const char* field, std::size_t min, std::size_t cap,
                            std::size_t min_item_size) {
  return count(4, field, min, cap, min_item_size);
}

}  // namespace loa::protocol::wire
