// A sender's envelope sequence (PROTOCOL.md, "Replay, per sender by sequence"): strictly
// increasing across restarts and clock steps.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::runtime {

// Each value is max(previous + 1, the clock in µs). A value is handed out only once a durable
// reservation covers it: when the next one would pass the reservation, a new one (that value +
// `step`) is stored first. A restart starts above the stored reservation, so no value is ever
// used twice, whatever the clock did meanwhile (stepped forward a day and back, or was set
// back before the restart). Thread-safe.
class SequenceCounter {
 public:
  // Makes `through` durable: every value up to it may have been used. If it fails, the error is
  // logged once and the value is used anyway (the sender keeps working; after a restart its
  // first messages could then be refused as replayed until the clock passes them); the next
  // value tries again.
  using Reserve = std::function<Status(std::uint64_t through)>;
  // A minute of µs: at most about one durable write a minute while the clock drives the values.
  static constexpr std::uint64_t kDefaultStep = 60'000'000;

  // `reserved`: the reservation the last run stored (0: none); values start above it. An empty
  // `reserve` keeps the counter in memory only (tests).
  SequenceCounter(std::uint64_t reserved, Reserve reserve, std::uint64_t step = kDefaultStep);

  // The next value: above every value handed out or reserved before, and at least `floor_us`
  // (the clock, in µs; negative counts as 0).
  std::uint64_t next(protocol::Micros floor_us);

 private:
  std::mutex mu_;
  std::uint64_t last_ = 0;
  std::uint64_t reserved_ = 0;
  Reserve reserve_;
  std::uint64_t step_;
  bool failing_ = false;
};

// A reservation kept in a small file of its own (one decimal number), for a sender whose
// database may be inside a long transaction when it seals (the controller). Writes go to
// "<path>.tmp", are fsynced and renamed over `path`. Reading a missing file gives 0; anything
// but one decimal number is an error naming the file.
Result<std::uint64_t> read_sequence_file(const std::string& path);
Status write_sequence_file(const std::string& path, std::uint64_t value);

}  // namespace loa::runtime
