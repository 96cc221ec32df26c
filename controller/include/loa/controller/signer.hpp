// Seals the controller's messages with its Ed25519 key and an increasing sequence number.
#pragma once

#include <cstdint>
#include <memory>

#include "loa/protocol/envelope.hpp"
#include "loa/runtime/clock.hpp"
#include "loa/runtime/sequence.hpp"

namespace loa::controller {

// Thread-safe. The sequence is a runtime::SequenceCounter: max(previous + 1, now in µs), reserved
// in `sequence_file` before use, so it keeps increasing across restarts and clock steps (empty
// file name: in memory only, for tests). The counter belongs to the controller, not to its key:
// after a key rotation the new key continues above the old one's sequences.
class Signer {
 public:
  Signer(protocol::KeyPair keys, runtime::Clock& clock, std::uint64_t reserved = 0,
         runtime::SequenceCounter::Reserve reserve = {})
      : keys_(keys),
        clock_(clock),
        sequence_(std::make_unique<runtime::SequenceCounter>(reserved, std::move(reserve))) {}

  // Sets *sequence (if given) to the envelope's sequence.
  protocol::Bytes seal(protocol::MessageType type, protocol::ByteView body,
                       std::uint64_t* sequence = nullptr);
  const protocol::PublicKey& public_key() const { return keys_.public_key; }

 private:
  protocol::KeyPair keys_;
  runtime::Clock& clock_;
  std::unique_ptr<runtime::SequenceCounter> sequence_;
};

}  // namespace loa::controller
