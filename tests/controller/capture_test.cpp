// loactl's capture (issue 5, `loactl live --device`) through the real PortAudio and ALSA: the
// test gives ALSA a capture device of its own, a `file` PCM that reads a known tone (ALSA's file
// plugin, slave `null`, in a ~/.asoundrc under a temporary HOME), so what PortAudio captures can
// be compared with what was played into it, sample for sample. Each test runs in a process of its
// own under ctest; HOME is set once, before PortAudio first reads ALSA's configuration.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "loa/controller/capture.hpp"
#include "loa/controller/cli.hpp"
#include "process.hpp"

namespace loa::controller {
namespace {

constexpr std::uint32_t kRate = 48000;

class CaptureTest : public ::testing::Test {
 protected:
  // Once per process: ALSA reads its configuration once and keeps it.
  static void SetUpTestSuite() {
    home_ = new test::TempDir("loa-capture-test");
    // 0.5 s of a 440 Hz tone with a ramp, so that any offset or reordering shows.
    tone_ = new std::string;
    for (std::uint32_t i = 0; i < kRate / 2; ++i) {
      const double v =
          9000.0 * std::sin(2 * M_PI * 440.0 * i / kRate) + static_cast<double>(i % 97);
      const auto s = static_cast<std::uint16_t>(static_cast<std::int16_t>(v));
      *tone_ += static_cast<char>(s & 0xff);
      *tone_ += static_cast<char>(s >> 8);
    }
    std::ofstream(*home_ / "tone.raw", std::ios::binary) << *tone_;
    std::ofstream(*home_ / ".asoundrc") << "pcm.loa_test_capture {\n"
                                           "  type file\n"
                                           "  slave.pcm \"null\"\n"
                                           "  file \"/dev/null\"\n"
                                           "  infile \""
                                        << (*home_ / "tone.raw") << "\"\n  format \"raw\"\n}\n";
    ::setenv("HOME", home_->path().c_str(), 1);
  }
  static void TearDownTestSuite() {
    delete home_;
    delete tone_;
  }

  static test::TempDir* home_;
  static std::string* tone_;  // s16le
};
test::TempDir* CaptureTest::home_ = nullptr;
std::string* CaptureTest::tone_ = nullptr;

TEST_F(CaptureTest, CapturesTheDeviceSampleForSample) {
  auto capture = open_capture("loa_test_capture", kRate);
  ASSERT_TRUE(capture.ok()) << capture.error().message;
  std::string pcm;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*capture)->read(4800, pcm).ok());
  ASSERT_EQ(pcm.size(), tone_->size());
  EXPECT_TRUE(pcm == *tone_) << "the captured samples differ from the device's";
  EXPECT_EQ((*capture)->overflows(), 0u);
}

TEST_F(CaptureTest, FindsTheDeviceByPartOfItsName) {
  auto capture = open_capture("test_capture", kRate);
  ASSERT_TRUE(capture.ok()) << capture.error().message;
  std::string pcm;
  ASSERT_TRUE((*capture)->read(960, pcm).ok());
  EXPECT_TRUE(pcm == tone_->substr(0, 2 * 960));
}

TEST_F(CaptureTest, UnknownDeviceIsNamedWithTheInputsThereAre) {
  auto capture = open_capture("no-such-microphone", kRate);
  ASSERT_FALSE(capture.ok());
  EXPECT_NE(capture.error().message.find("no input device named 'no-such-microphone'"),
            std::string::npos)
      << capture.error().message;
  EXPECT_NE(capture.error().message.find("'loa_test_capture'"), std::string::npos)
      << capture.error().message;
}

// loactl refuses a bad --device or --seconds before it sends anything (no controller listens on
// the address given: a request would fail with "cannot reach").
TEST_F(CaptureTest, LoactlRefusesAnUnknownDeviceAndBadSecondsBeforeSending) {
  auto run = [](std::vector<std::string> args) {
    std::ostringstream out;
    std::ostringstream err;
    args.insert(args.begin(), {"--controller", "http://127.0.0.1:9", "live", "--target", "area:79",
                               "--priority", "emergency"});
    const int code = run_loactl(args, out, err);
    return std::pair{code, err.str()};
  };
  auto [code, err] = run({"--device", "no-such-microphone"});
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("--device: portaudio: no input device named 'no-such-microphone'"),
            std::string::npos)
      << err;
  std::tie(code, err) = run({"--device", "loa_test_capture", "--seconds", "-1"});
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("--seconds '-1'"), std::string::npos) << err;
  std::tie(code, err) = run({"--stdin", "--seconds", "3"});
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("--seconds goes with --device"), std::string::npos) << err;
}

}  // namespace
}  // namespace loa::controller
