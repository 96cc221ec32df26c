// The sound-card sink through PortAudio's blocking API. Present in every build; in a build
// without PortAudio the functions say so.
#pragma once

#include <memory>
#include <string>

#include "loa/node/sink.hpp"

namespace loa::node {

// True when this build has the PortAudio sink.
bool portaudio_available();

// Checks that an output device of that name exists (empty: the default device). The error names
// the device, or says that this build has no PortAudio.
loa::Status check_portaudio_device(const std::string& device);

// A sink on the output device named `device` (exact name, else the first whose name contains it;
// empty: the default device). Its output latency is PortAudio's stream outputLatency.
// Returns nullptr in a build without PortAudio.
std::unique_ptr<Sink> make_portaudio_sink(const std::string& device);

}  // namespace loa::node
