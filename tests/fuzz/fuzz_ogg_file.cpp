// libFuzzer target: a cached bulletin's Ogg Opus file as a playing node reads it from its cache
// (node::Cache::open_audio: a whole checking pass, then OggOpusReader over the file a block at a
// time), every packet read and decoded. A file the check passes must read to its end with the
// same info; a file it refuses is refused with a message; memory is bounded by a page.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "fuzz_common.hpp"
#include "loa/node/cache.hpp"
#include "loa/protocol/ogg_opus.hpp"

namespace {

// The cache's directory, removed at exit (never destroyed, so the exit handler can use it).
const std::string& cache_dir() {
  static const std::string* dir = [] {
    auto* d = new std::string((std::filesystem::temp_directory_path() /
                               ("loa-fuzz-ogg-file-" + std::to_string(::getpid())))
                                  .string());
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(cache_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

const loa::node::Cache& cache() {
  static const loa::node::Cache c = [] {
    auto opened = loa::node::Cache::open(cache_dir());
    if (!opened) loa::protocol::fuzz::fail("cannot open the cache directory");
    return std::move(opened).value();
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa;
  using protocol::fuzz::fail;
  constexpr std::uint64_t kBulletin = 7;
  const std::string path = cache().path(kBulletin);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write the cached file");
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) fail("cannot write the cached file");
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);

  auto audio = cache().open_audio(kBulletin);
  if (!audio) {
    if (audio.error().message.empty()) fail("an error without a message");
    return 0;
  }
  auto decoder = protocol::OpusPcmDecoder::create(audio->info.channels);
  if (!decoder) fail("no decoder for a stream the check passed");
  std::vector<std::int16_t> pcm;
  for (;;) {
    auto packet = audio->packets.next();
    if (!packet) fail("a file the check passed fails on the second reading");
    if (!*packet) break;
    if (!protocol::opus_packet_samples(**packet)) fail("the check passed a malformed packet");
    pcm.clear();
    (void)decoder->decode(**packet, pcm);
  }
  if (!(audio->packets.info() == audio->info)) fail("the two readings disagree on the info");
  return 0;
}
