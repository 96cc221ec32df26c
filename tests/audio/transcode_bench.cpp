// loa-transcode-bench: the controller's transcode as a command, for bench_transcode.sh.
//   loa-transcode-bench generate OUT.wav SECONDS   speech input: espeak-ng reading the samples
//   loa-transcode-bench encode IN OUT.opus         encode_audio_file; prints the wall time
#include <sndfile.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "audio_test_util.hpp"
#include "loa/controller/audio.hpp"

namespace {

using loa::controller::EncodeOptions;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int generate(const std::string& out, double seconds) {
  std::vector<float> speech;
  for (const char* name : {"ban-tin-ngan.txt", "canh-bao-bao.txt"}) {
    const std::string text = read_text(std::string(LOA_SOURCE_DIR) + "/samples/" + name);
    auto r = loa::controller::synthesize_speech(text, "vi", EncodeOptions{});
    if (!r) {
      std::fprintf(stderr, "generate: %s\n", r.error().message.c_str());
      return 1;
    }
    auto pcm = loa::protocol::decode_stream(r->stream);
    if (!pcm) {
      std::fprintf(stderr, "generate: %s\n", pcm.error().message.c_str());
      return 1;
    }
    for (auto s : *pcm) speech.push_back(static_cast<float>(s) / 32768.0f);
    speech.insert(speech.end(), 24000, 0.0f);  // 0.5 s between bulletins
  }
  const auto total = static_cast<std::size_t>(seconds * 48000);
  std::vector<float> all;
  all.reserve(total);
  while (all.size() < total) {
    all.insert(
        all.end(), speech.begin(),
        speech.begin() + static_cast<std::ptrdiff_t>(std::min(speech.size(), total - all.size())));
  }
  const std::string err =
      loa::test_audio::write_sound_file(out, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, all);
  if (!err.empty()) {
    std::fprintf(stderr, "generate: cannot write %s: %s\n", out.c_str(), err.c_str());
    return 1;
  }
  std::printf("generated %s: %.1f s of speech, 48 kHz mono 16-bit\n", out.c_str(), seconds);
  return 0;
}

int encode(const std::string& in, const std::string& out) {
  const auto start = std::chrono::steady_clock::now();
  auto r = loa::controller::encode_audio_file(in, EncodeOptions{});
  if (!r) {
    std::fprintf(stderr, "encode: %s\n", r.error().message.c_str());
    return 1;
  }
  loa::test_audio::write_bytes(out, r->ogg);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("encoded %s: %.1f s of audio, %zu bytes, wall %.3f s\n", in.c_str(), r->duration_s,
              r->ogg.size(), wall);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "generate" && argc == 4) return generate(argv[2], std::atof(argv[3]));
  if (mode == "encode" && argc == 4) return encode(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: loa-transcode-bench generate OUT.wav SECONDS\n"
               "       loa-transcode-bench encode IN OUT.opus\n");
  return 2;
}
