#include "loa/protocol/envelope.hpp"

#include <sodium.h>

#include <cstring>
#include <limits>

#include "wire.hpp"

namespace loa::protocol {
namespace {

constexpr std::uint8_t kMagic[3] = {'L', 'O', 'A'};
constexpr std::size_t kTypeOffset = 4;
constexpr std::size_t kKeyIdOffset = 5;
constexpr std::size_t kSenderOffset = 13;
constexpr std::size_t kSequenceOffset = 21;
constexpr std::size_t kLengthOffset = 29;
constexpr std::uint8_t kHighestType = static_cast<std::uint8_t>(MessageType::cache_report);

std::uint64_t read_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

OpenResult refuse(Rejection r) {
  OpenResult out;
  out.rejection = r;
  return out;
}

// sender_us < now_us - max_age_us, without overflowing for extreme values.
bool too_old(Micros sender_us, Micros now_us, Micros max_age_us) {
  if (max_age_us <= 0) return false;
  if (now_us < std::numeric_limits<Micros>::min() + max_age_us) return false;
  return sender_us < now_us - max_age_us;
}

}  // namespace

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::plan:
      return "plan";
    case MessageType::manifest:
      return "manifest";
    case MessageType::audio_chunk:
      return "audio_chunk";
    case MessageType::control:
      return "control";
    case MessageType::playback_event:
      return "playback_event";
    case MessageType::receipt:
      return "receipt";
    case MessageType::status:
      return "status";
    case MessageType::hello:
      return "hello";
    case MessageType::fetch:
      return "fetch";
    case MessageType::cache_report:
      return "cache_report";
  }
  return "unknown";
}

const char* to_string(Rejection r) {
  switch (r) {
    case Rejection::bad_magic:
      return "bad_magic";
    case Rejection::unknown_version:
      return "unknown_version";
    case Rejection::unknown_type:
      return "unknown_type";
    case Rejection::truncated:
      return "truncated";
    case Rejection::trailing_bytes:
      return "trailing_bytes";
    case Rejection::oversize:
      return "oversize";
    case Rejection::unknown_key:
      return "unknown_key";
    case Rejection::bad_signature:
      return "bad_signature";
    case Rejection::expired:
      return "expired";
    case Rejection::replayed:
      return "replayed";
  }
  return "unknown";
}

KeyPair KeyPair::generate() {
  wire::ensure_sodium();
  KeyPair pair;
  crypto_sign_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

KeyPair KeyPair::from_secret(const SecretKey& secret) {
  wire::ensure_sodium();
  KeyPair pair;
  crypto_sign_seed_keypair(pair.public_key.data(), pair.secret_key.data(), secret.data());
  return pair;
}

KeyId key_id(const PublicKey& key) {
  const Digest d = sha256(key);
  return read_be(d.data(), 8);
}

Bytes seal(MessageType type, const KeyPair& signer, Micros sender_us, std::uint64_t sequence,
           ByteView body) {
  wire::ensure_sodium();
  if (body.size() > kMaxBodySize) wire::contract_violation("seal: body larger than kMaxBodySize");
  wire::Writer w(kEnvelopeHeaderSize + body.size() + kSignatureSize);
  w.raw(kMagic);
  w.u8(kWireVersion);
  w.u8(static_cast<std::uint8_t>(type));
  w.u64(key_id(signer.public_key));
  w.i64(sender_us);
  w.u64(sequence);
  w.u32(static_cast<std::uint32_t>(body.size()));
  w.raw(body);
  Bytes& out = w.bytes();
  const std::size_t signed_size = out.size();
  out.resize(signed_size + kSignatureSize);
  crypto_sign_detached(out.data() + signed_size, nullptr, out.data(), signed_size,
                       signer.secret_key.data());
  return w.take();
}

void KeySet::add(const PublicKey& key) {
  if (contains(key)) return;
  keys_.emplace_back(key_id(key), key);
}

const PublicKey* KeySet::find(KeyId id) const {
  for (const auto& [kid, key] : keys_) {
    // Two keys whose ids collide (2^-64) would make the first one win; the signature check
    // then refuses what the other signed.
    if (kid == id) return &key;
  }
  return nullptr;
}

std::optional<KeyId> claimed_key_id(ByteView envelope) {
  if (envelope.size() < kEnvelopeHeaderSize) return std::nullopt;
  return read_be(envelope.data() + kKeyIdOffset, 8);
}

OpenResult open(ByteView envelope, const KeySet& trusted, const VerifyPolicy& policy) {
  // Size caps and framing.
  const std::size_t size = envelope.size();
  if (size > kEnvelopeHeaderSize + kMaxBodySize + kSignatureSize) {
    return refuse(Rejection::oversize);
  }
  if (size < kEnvelopeHeaderSize + kSignatureSize) return refuse(Rejection::truncated);
  const std::uint8_t* p = envelope.data();
  const std::uint64_t body_size = read_be(p + kLengthOffset, 4);
  if (body_size > kMaxBodySize) return refuse(Rejection::oversize);
  const std::size_t expected = kEnvelopeHeaderSize + body_size + kSignatureSize;
  if (size < expected) return refuse(Rejection::truncated);
  if (size > expected) return refuse(Rejection::trailing_bytes);

  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return refuse(Rejection::bad_magic);
  if (p[3] != kWireVersion) return refuse(Rejection::unknown_version);
  const std::uint8_t type = p[kTypeOffset];
  if (type < 1 || type > kHighestType) return refuse(Rejection::unknown_type);

  EnvelopeHeader header;
  header.type = static_cast<MessageType>(type);
  header.key_id = read_be(p + kKeyIdOffset, 8);
  header.sender_us = static_cast<Micros>(read_be(p + kSenderOffset, 8));
  header.sequence = read_be(p + kSequenceOffset, 8);

  const PublicKey* key = trusted.find(header.key_id);
  if (key == nullptr) return refuse(Rejection::unknown_key);

  wire::ensure_sodium();
  const std::size_t signed_size = kEnvelopeHeaderSize + body_size;
  if (policy.check_signature &&
      crypto_sign_verify_detached(p + signed_size, p, signed_size, key->data()) != 0) {
    return refuse(Rejection::bad_signature);
  }
  if (too_old(header.sender_us, policy.now_us, policy.max_age_us)) {
    return refuse(Rejection::expired);
  }
  if (policy.last_sequence && header.sequence <= *policy.last_sequence) {
    return refuse(Rejection::replayed);
  }
  OpenResult out;
  out.opened = Opened{header, envelope.subspan(kEnvelopeHeaderSize, body_size)};
  return out;
}

}  // namespace loa::protocol
