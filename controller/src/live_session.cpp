#include "loa/controller/live_session.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "loa/runtime/log.hpp"

namespace loa::controller {

using runtime::Log;
using runtime::LogLevel;

namespace {

constexpr Micros kPacketUs = Micros{kLiveFrameMs} * 1000;
// The end chunk goes out this many times: live chunks are QoS 0, and a lost end chunk would
// leave nodes waiting 5 s and reporting `partial`.
constexpr int kEndCopies = 3;

// Whether every packet is one the wire carries (an AudioChunk holding another is refused by
// the nodes, and encoding it is a programming error): the stream ends rather than the process.
loa::Status check_packets(std::vector<protocol::Bytes>& packets) {
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (packets[i].empty() || packets[i].size() > protocol::kMaxOpusPacket) {
      const std::size_t size = packets[i].size();
      packets.resize(i);
      return make_error("encoder: a packet of " + std::to_string(size) + " bytes (1.." +
                        std::to_string(protocol::kMaxOpusPacket) + ")");
    }
  }
  return {};
}

}  // namespace

LiveSession::LiveSession(std::uint64_t bulletin_id, std::uint64_t occurrence_id, Micros t0,
                         std::unique_ptr<StreamEncoder> encoder, std::uint8_t channels,
                         std::size_t packets_per_chunk, runtime::Clock& clock, Hooks hooks,
                         const std::vector<float>& prefix, std::unique_ptr<PacketSpool> spool)
    : bulletin_id_(bulletin_id),
      occurrence_id_(occurrence_id),
      t0_(t0),
      start_us_(t0 - Micros{encoder->pre_skip()} * 1'000'000 / protocol::kOpusRate),
      encoder_(std::move(encoder)),
      channels_(std::max<std::uint8_t>(channels, 1)),
      packets_per_chunk_(std::clamp<std::size_t>(packets_per_chunk, 3, 5)),
      clock_(clock),
      hooks_(std::move(hooks)),
      spool_(std::move(spool)) {
  if (!spool_) archive_error_ = "not kept";
  if (!prefix.empty()) encode(prefix);
}

void LiveSession::keep(const std::vector<protocol::Bytes>& packets) {
  if (!archive_error_.empty()) return;
  for (const auto& p : packets) {
    if (loa::Status s = spool_->append(p); !s) {
      archive_error_ = "packets not kept: " + s.message();
      Log(LogLevel::warn, "live").kv("stream", bulletin_id_) << archive_error_;
      return;
    }
  }
}

Result<std::unique_ptr<PacketSpool>> PacketSpool::create(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("directory '" + dir + "': " + ec.message());
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // A file system without unnamed files: a named one, unlinked at once.
    std::string name = dir + "/live-XXXXXX";
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(name.c_str());
  }
  if (fd < 0) return make_error("directory '" + dir + "': " + std::strerror(errno));
  return std::unique_ptr<PacketSpool>(new PacketSpool(fd));
}

PacketSpool::~PacketSpool() {
  ::close(fd_);
}

loa::Status PacketSpool::append(protocol::ByteView packet) {
  if (packet.empty() || packet.size() > 0xffff) {
    return make_error("a packet of " + std::to_string(packet.size()) + " bytes");
  }
  std::vector<std::uint8_t> record;
  record.reserve(2 + packet.size());
  record.push_back(static_cast<std::uint8_t>(packet.size() >> 8));
  record.push_back(static_cast<std::uint8_t>(packet.size() & 0xff));
  record.insert(record.end(), packet.begin(), packet.end());
  std::size_t done = 0;
  while (done < record.size()) {
    const ssize_t n =
        ::pwrite(fd_, record.data() + done, record.size() - done, static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(std::string("write: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  size_ += record.size();
  ++count_;
  return {};
}

loa::Status PacketSpool::for_each(const std::function<loa::Status(protocol::ByteView)>& f) const {
  auto read_at = [&](std::uint8_t* to, std::size_t n, std::uint64_t at) -> loa::Status {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, to + done, n - done, static_cast<off_t>(at + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return make_error(std::string("read: ") + std::strerror(errno));
      done += static_cast<std::size_t>(got);
    }
    return {};
  };
  std::vector<std::uint8_t> packet;
  std::uint64_t at = 0;
  for (std::uint64_t i = 0; i < count_; ++i) {
    std::uint8_t head[2];
    if (loa::Status s = read_at(head, 2, at); !s) return s;
    packet.resize(static_cast<std::size_t>(head[0]) << 8 | head[1]);
    if (loa::Status s = read_at(packet.data(), packet.size(), at + 2); !s) return s;
    at += 2 + packet.size();
    if (loa::Status s = f(packet); !s) return s;
  }
  return {};
}

double LiveSession::cpu_now() const {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

loa::Status LiveSession::push_s16le(protocol::ByteView bytes) {
  if (!error_) return error_;
  const double cpu0 = cpu_now();
  const std::size_t frame_bytes = 2u * channels_;
  carry_.insert(carry_.end(), bytes.begin(), bytes.end());
  const std::size_t frames = carry_.size() / frame_bytes;
  std::vector<float> mono(frames);
  for (std::size_t f = 0; f < frames; ++f) {
    float sum = 0;
    for (std::size_t c = 0; c < channels_; ++c) {
      const std::size_t at = f * frame_bytes + 2 * c;
      const auto v = static_cast<std::int16_t>(
          static_cast<std::uint16_t>(carry_[at] | (std::uint16_t{carry_[at + 1]} << 8)));
      sum += static_cast<float>(v) / 32768.0f;
    }
    mono[f] = sum / static_cast<float>(channels_);
  }
  carry_.erase(carry_.begin(), carry_.begin() + static_cast<std::ptrdiff_t>(frames * frame_bytes));
  cpu_s_ += cpu_now() - cpu0;
  encode(mono);
  publish_ready(false);
  return error_;
}

void LiveSession::encode(std::span<const float> mono) {
  const double cpu0 = cpu_now();
  std::vector<protocol::Bytes> packets;
  if (loa::Status s = encoder_->push(mono, packets); !s) error_ = s;
  if (loa::Status s = check_packets(packets); !s) error_ = s;
  keep(packets);
  for (auto& p : packets) pending_.push_back(std::move(p));
  cpu_s_ += cpu_now() - cpu0;
}

void LiveSession::publish_ready(bool all) {
  while (pending_.size() >= packets_per_chunk_ || (all && !pending_.empty())) {
    const std::size_t n = std::min(pending_.size(), packets_per_chunk_);
    std::vector<protocol::Bytes> chunk(std::make_move_iterator(pending_.begin()),
                                       std::make_move_iterator(pending_.begin() + n));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    publish_chunk(std::move(chunk));
  }
}

void LiveSession::publish_chunk(std::vector<protocol::Bytes> packets) {
  const Micros sender = start_us_ + static_cast<Micros>(packets_sent_) * kPacketUs;
  // Paced like a capture: a chunk leaves once the instant after its last sample has come (a file
  // or a fast pipe is not sent ahead of real time).
  const Micros ready = sender + static_cast<Micros>(packets.size()) * kPacketUs;
  while (clock_.now_us() < ready) clock_.sleep_until(ready);
  const double cpu0 = cpu_now();
  packets_sent_ += packets.size();
  protocol::AudioChunk chunk{bulletin_id_, next_index_++, sender, std::move(packets)};
  const protocol::Bytes envelope = hooks_.seal(protocol::encode(chunk));
  if (loa::Status s = hooks_.publish(envelope); !s) {
    Log(LogLevel::warn, "live").kv("stream", bulletin_id_).kv("index", chunk.index)
        << "chunk not published: " << s.message();
  }
  cpu_s_ += cpu_now() - cpu0;
}

LiveSummary LiveSession::finish(const std::string& why) {
  const double cpu0 = cpu_now();
  std::vector<protocol::Bytes> packets;
  if (loa::Status s = encoder_->finish(packets); !s && error_) error_ = s;
  if (loa::Status s = check_packets(packets); !s && error_) error_ = s;
  keep(packets);
  for (auto& p : packets) pending_.push_back(std::move(p));
  cpu_s_ += cpu_now() - cpu0;
  publish_ready(true);
  const std::uint64_t samples = encoder_->samples_in();
  LiveSummary summary;
  summary.bulletin_id = bulletin_id_;
  summary.occurrence_id = occurrence_id_;
  summary.start_us = start_us_;
  summary.end_us = t0_ + static_cast<Micros>(samples * 1'000'000 / protocol::kOpusRate);
  summary.chunks = next_index_;
  summary.packets = static_cast<std::uint32_t>(packets_sent_);
  summary.duration_s = static_cast<double>(samples) / protocol::kOpusRate;
  summary.ended_by = error_ ? why : why + " (" + error_.message() + ")";
  const protocol::AudioChunk end{
      bulletin_id_, next_index_, start_us_ + static_cast<Micros>(packets_sent_) * kPacketUs, {}};
  for (int i = 0; i < kEndCopies; ++i) {
    (void)hooks_.publish(hooks_.seal(protocol::encode(end)));
  }
  summary.cpu_s = cpu_s_;
  protocol::OpusStreamInfo info;
  info.channels = 1;
  info.pre_skip = encoder_->pre_skip();
  info.total_samples = samples;
  if (samples == 0 || packets_sent_ == 0) {
    summary.archive_error = "no audio";
  } else if (!archive_error_.empty()) {
    summary.archive_error = archive_error_;
  } else if (hooks_.archive) {
    if (loa::Status s = hooks_.archive(summary, info, *spool_); !s) {
      summary.archive_error = s.message();
    }
  }
  spool_.reset();
  Log(LogLevel::info, "live")
          .kv("stream", bulletin_id_)
          .kv("occurrence", occurrence_id_)
          .kv("chunks", summary.chunks)
          .kv("duration_s", summary.duration_s)
          .kv("cpu_s", summary.cpu_s)
          .kv("ended_by", summary.ended_by)
      << "live stream ended";
  return summary;
}

}  // namespace loa::controller
