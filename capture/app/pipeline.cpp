#include "app/pipeline.hpp"

#include "decode/decoder.hpp"

#include <array>
#include <chrono>

namespace flowguard::capture::app {
namespace {

std::int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How stale the control socket's `stats` may be while packets flow.
constexpr std::chrono::seconds publish_interval{1};

}  // namespace

Status Pipeline::run(const std::function<void()>& periodic, double interval_s) {
  // The decoder is chosen once; each mode gets its own instantiation of the packet loop.
  if (mode_ == DecodeMode::reference) {
    const ReferenceBuild build = build_;
    return run_loop(
        [build](const RawPacket& raw, DecodedPacket& out, DecodeCounters& counters) {
          return decode_reference(build, raw.data, raw.ts_us, raw.wirelen, out, counters);
        },
        periodic, interval_s);
  }
  const int link_type = source_.link_type();
  return run_loop(
      [link_type](const RawPacket& raw, DecodedPacket& out, DecodeCounters& counters) {
        return decode_packet(link_type, raw.data, raw.ts_us, raw.wirelen, out, counters);
      },
      periodic, interval_s);
}

template <typename Decode>
Status Pipeline::run_loop(Decode&& decode, const std::function<void()>& periodic, double interval_s) {
  using Clock = std::chrono::steady_clock;
  const bool report = interval_s > 0 && periodic;
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_s));
  auto next_report = Clock::now() + interval;
  auto next_publish = Clock::now() + publish_interval;
  auto publish = [&](Clock::time_point now) {
    if (metrics_ == nullptr || now < next_publish) return;
    metrics_->publish();
    next_publish = now + publish_interval;
  };

  RawPacket raw;
  // Files are processed in batches so the engine can prefetch flow records; live packets go one by one
  // (a batch must never wait for the next packet to arrive).
  std::array<DecodedPacket, FlowEngine::max_batch> batch;
  const std::size_t batch_limit = source_.is_live() ? 1 : batch.size();
  std::size_t batched = 0;
  Status result;
  std::uint32_t since_clock_check = 0;
  for (;;) {
    const ReadStatus status = source_.next(raw);
    if (status == ReadStatus::packet) {
      if (decode(raw, batch[batched], counters_) == DecodeStatus::decoded && ++batched == batch_limit) {
        engine_.on_packets({batch.data(), batched});
        batched = 0;
      }
      // Reading the clock per packet would cost more than the rest of the path.
      if (++since_clock_check >= 4096) {
        since_clock_check = 0;
        const auto now = Clock::now();
        publish(now);
        if (report && now >= next_report) {
          periodic();
          next_report = Clock::now() + interval;
        }
      }
      continue;
    }
    if (batched != 0) {
      engine_.on_packets({batch.data(), batched});
      batched = 0;
    }
    if (status == ReadStatus::timeout) {
      // Live capture and a quiet link: packet timestamps are wall-clock time, so let flows expire.
      engine_.on_idle(wall_clock_us());
      publish(Clock::now());
      if (report && Clock::now() >= next_report) {
        periodic();
        next_report = Clock::now() + interval;
      }
      continue;
    }
    if (status == ReadStatus::error) {
      result =
          Error{ErrorCode::io_error, "reading " + source_.description() + " failed: " + source_.last_error()};
    }
    break;  // end_of_input, stopped, or error: the flows seen so far are still emitted
  }
  engine_.finish();
  if (metrics_ != nullptr) metrics_->publish();
  return result;
}

}  // namespace flowguard::capture::app
