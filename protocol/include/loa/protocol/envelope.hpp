// The signed envelope every message travels in.
//
//   magic "LOA" (3) | version (1) | type (1) | key id (8) | sender time µs (8) | sequence (8)
//   | body length (4) | body | Ed25519 signature (64) over everything before it
//
// All integers big-endian. See PROTOCOL.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "loa/protocol/messages.hpp"

namespace loa::protocol {

inline constexpr std::uint8_t kWireVersion = 1;
inline constexpr std::size_t kEnvelopeHeaderSize = 3 + 1 + 1 + 8 + 8 + 8 + 4;
inline constexpr std::size_t kSignatureSize = 64;
inline constexpr std::size_t kMaxBodySize = 256 * 1024;

enum class MessageType : std::uint8_t {
  plan = 1,
  manifest = 2,
  audio_chunk = 3,
  control = 4,
  playback_event = 5,
  receipt = 6,
  status = 7,
  hello = 8,
  fetch = 9,
  cache_report = 10,
};
const char* to_string(MessageType t);

using PublicKey = std::array<std::uint8_t, 32>;
using SecretKey = std::array<std::uint8_t, 64>;
using KeyId = std::uint64_t;

// An Ed25519 key pair (libsodium). The secret half never leaves the process that made it.
struct KeyPair {
  PublicKey public_key{};
  SecretKey secret_key{};
  static KeyPair generate();
  // Re-derives the key pair from the 32-byte seed stored in the secret key's first half.
  static KeyPair from_secret(const SecretKey& secret);
};

// First 8 bytes of SHA-256(public key), big-endian.
KeyId key_id(const PublicKey& key);

struct EnvelopeHeader {
  MessageType type{};
  KeyId key_id = 0;
  Micros sender_us = 0;
  std::uint64_t sequence = 0;
};

// Builds and signs an envelope around an encoded body.
Bytes seal(MessageType type, const KeyPair& signer, Micros sender_us, std::uint64_t sequence,
           ByteView body);

enum class Rejection {
  bad_magic,
  unknown_version,
  unknown_type,
  truncated,
  trailing_bytes,
  oversize,
  unknown_key,
  bad_signature,
  expired,
  replayed,
};
const char* to_string(Rejection r);

struct Opened {
  EnvelopeHeader header;
  ByteView body;  // points into the buffer given to open()
};

// The public keys a receiver trusts for one sender, found by key id: a node's one key, or the
// controller's keys (more than one during a key rotation, PROTOCOL.md "Security model").
class KeySet {
 public:
  KeySet() = default;
  explicit KeySet(const PublicKey& key) { add(key); }
  explicit KeySet(const std::vector<PublicKey>& keys) {
    for (const auto& k : keys) add(k);
  }
  // Adds a key; one already held is not added twice.
  void add(const PublicKey& key);
  // The key with this id, or nullptr.
  const PublicKey* find(KeyId id) const;
  bool contains(const PublicKey& key) const { return find(key_id(key)) != nullptr; }
  std::size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  friend bool operator==(const KeySet&, const KeySet&) = default;

 private:
  std::vector<std::pair<KeyId, PublicKey>> keys_;  // in the order added
};

// What the receiver expects of an envelope.
struct VerifyPolicy {
  Micros now_us = 0;
  // Refuse envelopes whose sender time is older than now - max_age_us (0: no age check).
  Micros max_age_us = 0;
  // Refuse envelopes whose sequence is not greater than this (nullopt: no replay check).
  std::optional<std::uint64_t> last_sequence;
  // false: the key must still be known, but the signature is not checked. Only for a body that
  // is authenticated another way: a bulletin chunk whose SHA-256 a verified manifest lists.
  bool check_signature = true;
};

// Parses and verifies an envelope signed by one of `trusted` (a key id not among them:
// unknown_key). Returns the one reason it is refused, or the header and body. Checks in this
// order: size caps and framing, magic, version, type, key, signature, age, replay. Every
// receiver verifies through this function.
struct OpenResult {
  std::optional<Opened> opened;
  Rejection rejection = Rejection::bad_magic;  // meaningful only when !opened
  bool ok() const { return opened.has_value(); }
};
OpenResult open(ByteView envelope, const KeySet& trusted, const VerifyPolicy& policy = {});

// The key id an envelope claims, read without checking anything else: for a receiver to find its
// replay mark for that key before calling open(), which then verifies it. nullopt when the bytes
// are shorter than a header.
std::optional<KeyId> claimed_key_id(ByteView envelope);

}  // namespace loa::protocol
