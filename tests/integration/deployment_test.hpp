// The fixture of the end-to-end suites: a Deployment with its controller running, and the loactl
// steps every suite takes (bulletin, schedule, coverage, log, expected audio).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deployment.hpp"

namespace loa::test {

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<Deployment>();
    d_->start_controller();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << d_->logs();
  }

  // A bulletin made by TTS from one of the repo's samples/; returns its id (-1 on failure).
  std::int64_t make_tts_bulletin(const std::string& sample);

  // Schedules `bulletin` `ahead` from now (a UTC wall time, rounded up to the second) with the
  // further arguments (targets, priority...); returns the occurrence id and its instant.
  std::pair<std::int64_t, protocol::Micros> schedule(std::int64_t bulletin,
                                                     std::chrono::milliseconds ahead,
                                                     const std::vector<std::string>& extra);

  nlohmann::json coverage(std::int64_t occurrence);

  // The playback log rows of one occurrence, by node id.
  std::map<std::string, nlohmann::json> events_of(std::int64_t occurrence);

  // What every node must have played for `bulletin`: our decode of the controller's Ogg file.
  std::vector<std::int16_t> expected_pcm(std::int64_t bulletin);

  std::string wav_of(const std::string& node, std::int64_t occurrence) const {
    return d_->node_wav_dir(node) + "/" + std::to_string(occurrence) + ".wav";
  }

  std::unique_ptr<Deployment> d_;
};

}  // namespace loa::test
