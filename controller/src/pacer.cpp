#include "loa/controller/pacer.hpp"

#include <algorithm>

namespace loa::controller {

bool Pacer::ready(protocol::Micros now) {
  if (rate_ <= 0) return true;
  if (at_ < 0) {
    tokens_ = burst_;
  } else if (now > at_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now - at_) / 1e6);
  }
  at_ = std::max(at_, now);
  return tokens_ > 0;
}

}  // namespace loa::controller
