#include "loa/controller/signer.hpp"

#include <algorithm>

namespace loa::controller {

protocol::Bytes Signer::seal(protocol::MessageType type, protocol::ByteView body,
                             std::uint64_t* sequence) {
  const protocol::Micros now = clock_.now_us();
  std::uint64_t prev = sequence_.load();
  std::uint64_t next = 0;
  do {
    next = std::max(prev + 1, static_cast<std::uint64_t>(std::max<protocol::Micros>(now, 0)));
  } while (!sequence_.compare_exchange_weak(prev, next));
  if (sequence) *sequence = next;
  return protocol::seal(type, keys_, now, next, body);
}

}  // namespace loa::controller
