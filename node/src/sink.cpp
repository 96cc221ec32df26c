#include "loa/node/sink.hpp"

#include <filesystem>

#include "loa/node/null_sink.hpp"
#include "loa/node/portaudio_sink.hpp"
#include "loa/node/wav_sink.hpp"
#include "loa/runtime/files.hpp"

namespace loa::node {

Result<SinkSpec> parse_sink_spec(std::string_view text) {
  const auto colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  SinkSpec spec;
  spec.argument = std::string(arg);
  if (kind == "null" && colon == std::string_view::npos) {
    spec.kind = SinkSpec::Kind::null;
  } else if (kind == "wav" && !arg.empty()) {
    spec.kind = SinkSpec::Kind::wav;
  } else if (kind == "portaudio") {
    spec.kind = SinkSpec::Kind::portaudio;
  } else {
    return make_error("'" + std::string(text) +
                      "' is not one of null, wav:DIR, portaudio, portaudio:DEVICE NAME");
  }
  return spec;
}

Result<SinkFactory> make_sink_factory(const SinkSpec& spec, runtime::Clock& clock) {
  switch (spec.kind) {
    case SinkSpec::Kind::null:
      return SinkFactory([&clock](std::uint64_t) { return std::make_unique<NullSink>(clock); });
    case SinkSpec::Kind::wav: {
      if (loa::Status s = runtime::make_directories(spec.argument); !s)
        return make_error(s.message());
      const std::string dir = spec.argument;
      auto path_for = [dir](std::uint64_t occurrence_id) {
        return (std::filesystem::path(dir) / (std::to_string(occurrence_id) + ".wav")).string();
      };
      return SinkFactory([&clock, path_for](std::uint64_t occurrence_id) {
        return std::make_unique<WavSink>(clock, path_for(occurrence_id), path_for);
      });
    }
    case SinkSpec::Kind::portaudio: {
      if (loa::Status s = check_portaudio_device(spec.argument); !s) {
        return make_error(s.message());
      }
      const std::string device = spec.argument;
      return SinkFactory([device](std::uint64_t) { return make_portaudio_sink(device); });
    }
  }
  return make_error("unknown sink kind");
}

}  // namespace loa::node
