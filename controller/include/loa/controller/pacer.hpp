// A token bucket over delivered bytes, for the broker's fan-out of prefetched audio: a chunk
// published on a topic that N nodes receive costs its size times N. Publishing a whole bulletin
// at once to thousands of nodes queues gigabytes in the broker; each node's PINGRESP then waits
// behind its share, and nodes whose queue takes longer than their keepalive drop the connection
// and come back, which costs the broker more again (docs/benchmarks.md, 10,000 nodes).
#pragma once

#include "loa/protocol/messages.hpp"

namespace loa::controller {

class Pacer {
 public:
  // bytes_per_s 0: no limit. Budget left unused accumulates for at most burst_s.
  explicit Pacer(double bytes_per_s = 0, double burst_s = 1.0)
      : rate_(bytes_per_s), burst_(bytes_per_s * burst_s) {}

  // Whether the budget allows sending at `now` (it is not in debt).
  bool ready(protocol::Micros now);
  // Spends `bytes`. The balance may go negative (one chunk to 10,000 nodes can cost more than a
  // second's budget); nothing is sent until it is paid back.
  void take(double bytes) {
    if (rate_ > 0) tokens_ -= bytes;
  }

 private:
  double rate_;
  double burst_;
  double tokens_ = 0;
  protocol::Micros at_ = -1;  // when tokens_ was last brought up to date
};

}  // namespace loa::controller
