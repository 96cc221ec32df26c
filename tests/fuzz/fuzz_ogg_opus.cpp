// libFuzzer target: read_ogg_opus. A stream it reads must survive write_ogg_opus and a re-read.
#include "fuzz_common.hpp"
#include "loa/protocol/ogg_opus.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::protocol;
  auto stream = read_ogg_opus(ByteView(data, size));
  if (!stream.ok()) {
    if (stream.error().message.empty()) fuzz::fail("an error without a message");
    return 0;
  }
  for (const auto& packet : stream->packets) (void)opus_packet_samples(packet);
  auto file = write_ogg_opus(stream.value());
  if (!file.ok()) return 0;
  auto again = read_ogg_opus(file.value());
  if (!again.ok()) fuzz::fail("read_ogg_opus refused what write_ogg_opus wrote");
  if (!(again.value() == stream.value())) fuzz::fail("read(write(read(x))) != read(x)");
  return 0;
}
