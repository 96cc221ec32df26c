// libFuzzer target: open() with the fixture controller key, then the body's decoder.
#include <algorithm>

#include "fuzz_common.hpp"
#include "loa/protocol/envelope.hpp"

namespace {

using namespace loa::protocol;

const KeyPair& controller_key() {
  static const KeyPair key = [] {
    SecretKey secret{};
    for (std::size_t i = 0; i < 32; ++i) secret[i] = static_cast<std::uint8_t>(i + 1);
    return KeyPair::from_secret(secret);
  }();
  return key;
}

void decode_body(MessageType type, ByteView body) {
  switch (type) {
    case MessageType::plan:
      return fuzz::round_trip(body, decode_plan);
    case MessageType::manifest:
      return fuzz::round_trip(body, decode_manifest);
    case MessageType::audio_chunk:
      return fuzz::round_trip(body, decode_audio_chunk);
    case MessageType::control:
      return fuzz::round_trip(body, decode_control);
    case MessageType::playback_event:
      return fuzz::round_trip(body, decode_playback_event);
    case MessageType::receipt:
      return fuzz::round_trip(body, decode_receipt);
    case MessageType::status:
      return fuzz::round_trip(body, decode_status);
    case MessageType::hello:
      return fuzz::round_trip(body, decode_hello);
    case MessageType::fetch:
      return fuzz::round_trip(body, decode_fetch);
    case MessageType::cache_report:
      return fuzz::round_trip(body, decode_cache_report);
  }
  fuzz::fail("open() accepted an unknown type");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const KeyPair& key = controller_key();
  // A rotation's two keys: the fixture key and another that signs nothing in the corpus.
  static const KeySet trusted({KeyPair::generate().public_key, key.public_key});
  const KeyId id = key_id(key.public_key);
  VerifyPolicy policy;
  policy.now_us = 1717200000LL * 1000000;
  policy.max_age_us = 3600LL * 1000000;
  const ByteView envelope(data, size);
  const OpenResult r = open(envelope, trusted, policy);
  if (!r.ok()) return 0;
  const Opened& o = *r.opened;
  if (o.body.data() < data || o.body.data() + o.body.size() > data + size) {
    fuzz::fail("body outside the envelope");
  }
  if (o.header.key_id != id) fuzz::fail("opened with an unknown key id");
  decode_body(o.header.type, o.body);
  // Anything that opens must be exactly what seal() makes of its header and body.
  const Bytes again = seal(o.header.type, key, o.header.sender_us, o.header.sequence, o.body);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) {
    fuzz::fail("seal(open(x)) != x");
  }
  return 0;
}
