// Text to speech through the espeak-ng library API.
#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "loa/controller/audio.hpp"
#include "pcm_encoder.hpp"

namespace loa::controller {
namespace {

constexpr std::size_t kMaxTextBytes = 20000;
constexpr std::size_t kMaxVoiceName = 64;

// espeak-ng keeps global state: one engine per process, every call under this mutex.
std::mutex g_espeak_mutex;
std::vector<short>* g_collector = nullptr;  // guarded by g_espeak_mutex
std::optional<std::string> g_init_error;    // guarded by g_espeak_mutex
bool g_initialized = false;                 // guarded by g_espeak_mutex
int g_sample_rate = 0;                      // guarded by g_espeak_mutex

int collect_samples(short* samples, int count, espeak_EVENT*) {
  if (samples != nullptr && count > 0 && g_collector != nullptr) {
    g_collector->insert(g_collector->end(), samples, samples + count);
  }
  return 0;  // continue synthesis
}

std::string status_message(espeak_ng_STATUS status) {
  std::array<char, 512> buf{};
  espeak_ng_GetStatusCodeMessage(status, buf.data(), buf.size());
  return buf.data();
}

// Must hold g_espeak_mutex.
loa::Status initialize_locked() {
  if (g_initialized) return Status::success();
  if (g_init_error) return make_error(*g_init_error);
  espeak_ng_InitializePath(nullptr);
  espeak_ng_ERROR_CONTEXT context = nullptr;
  espeak_ng_STATUS status = espeak_ng_Initialize(&context);
  espeak_ng_ClearErrorContext(&context);
  if (status == ENS_OK) status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, nullptr);
  if (status != ENS_OK) {
    g_init_error = "tts: cannot initialize espeak-ng: " + status_message(status);
    return make_error(*g_init_error);
  }
  espeak_SetSynthCallback(collect_samples);
  g_sample_rate = espeak_ng_GetSampleRate();
  if (g_sample_rate <= 0) {
    g_init_error = "tts: espeak-ng reports a sample rate of " + std::to_string(g_sample_rate);
    return make_error(*g_init_error);
  }
  g_initialized = true;
  return Status::success();
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// beyond U+10FFFF included), or npos.
std::size_t invalid_utf8_offset(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::array<std::uint32_t, 5> kMinForLength = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

bool valid_voice_name(std::string_view voice) {
  if (voice.empty() || voice.size() > kMaxVoiceName) return false;
  for (char c : voice) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<EncodedAudio> synthesize_speech(std::string_view utf8_text, std::string_view voice,
                                       const EncodeOptions& options) {
  if (utf8_text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos) {
    return make_error("tts: text is empty");
  }
  if (utf8_text.size() > kMaxTextBytes) {
    return make_error("tts: text of " + std::to_string(utf8_text.size()) +
                      " bytes is longer than the " + std::to_string(kMaxTextBytes) +
                      " bytes allowed");
  }
  if (const std::size_t bad = invalid_utf8_offset(utf8_text); bad != std::string_view::npos) {
    return make_error("tts: text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  }
  if (utf8_text.find('\0') != std::string_view::npos) {
    return make_error("tts: text contains a NUL byte at offset " +
                      std::to_string(utf8_text.find('\0')));
  }
  if (voice.empty()) voice = "vi";
  if (!valid_voice_name(voice)) {
    return make_error("tts: unknown voice '" + std::string(voice.substr(0, kMaxVoiceName)) + "'");
  }
  const std::string voice_name(voice);
  const std::string text(utf8_text);  // espeak needs a NUL-terminated string

  std::vector<short> samples;
  int rate = 0;
  {
    std::lock_guard lock(g_espeak_mutex);
    if (auto ok = initialize_locked(); !ok) return make_error(ok.message());
    if (espeak_SetVoiceByName(voice_name.c_str()) != EE_OK) {
      return make_error("tts: unknown voice '" + voice_name + "'");
    }
    g_collector = &samples;
    const espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                          espeakCHARS_UTF8, nullptr, nullptr);
    const espeak_ERROR sync = espeak_Synchronize();
    g_collector = nullptr;
    if (err != EE_OK || sync != EE_OK) {
      return make_error("tts: espeak-ng synthesis failed (error " +
                        std::to_string(err != EE_OK ? err : sync) + ")");
    }
    rate = g_sample_rate;
  }
  if (samples.empty()) return make_error("tts: espeak-ng produced no audio for the text");
  std::vector<float> mono(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i)
    mono[i] = static_cast<float>(samples[i]) / 32768.0f;
  return audio_detail::encode_pcm_named(mono, static_cast<std::uint32_t>(rate), options,
                                        "speech for voice '" + voice_name + "'");
}

}  // namespace loa::controller
