#include "loa/controller/signer.hpp"

namespace loa::controller {

protocol::Bytes Signer::seal(protocol::MessageType type, protocol::ByteView body,
                             std::uint64_t* sequence) {
  const protocol::Micros now = clock_.now_us();
  const std::uint64_t next = sequence_->next(now);
  if (sequence) *sequence = next;
  return protocol::seal(type, keys_, now, next, body);
}

}  // namespace loa::controller
