// Seals the controller's messages with its Ed25519 key and an increasing sequence number.
#pragma once

#include <atomic>
#include <cstdint>

#include "loa/protocol/envelope.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::controller {

// Thread-safe. The sequence is max(previous + 1, now in µs), so it keeps increasing across
// restarts without being persisted (as long as the clock does not jump back).
class Signer {
 public:
  Signer(protocol::KeyPair keys, runtime::Clock& clock) : keys_(keys), clock_(clock) {}

  // Sets *sequence (if given) to the envelope's sequence.
  protocol::Bytes seal(protocol::MessageType type, protocol::ByteView body,
                       std::uint64_t* sequence = nullptr);
  const protocol::PublicKey& public_key() const { return keys_.public_key; }

 private:
  protocol::KeyPair keys_;
  runtime::Clock& clock_;
  std::atomic<std::uint64_t> sequence_{0};
};

}  // namespace loa::controller
