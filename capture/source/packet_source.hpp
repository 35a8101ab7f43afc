#pragma once
// Where packets come from: a pcap/pcapng file or a live interface, both through libpcap.
//
// Opening is the start-up boundary: open_file()/open_live() throw SourceError with a message that says
// what failed and why (libpcap's text included). Reading is the packet path: next() never throws and
// never allocates; it hands out a view into libpcap's buffer, valid until the next call.

#include "common/error.hpp"
#include "core/agent_metrics.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

struct pcap;  // libpcap's pcap_t, kept out of this header

namespace flowguard::capture {

// Opening a source failed (start-up): the one error shape (common/error.hpp), thrown at the boundary.
class SourceError : public Exception {
 public:
  explicit SourceError(std::string message) : Exception(ErrorCode::io_error, std::move(message)) {}
};

// How a file is replayed: as fast as possible, or with the capture's inter-packet gaps (divided by
// `speed`, so 2.0 replays twice as fast).
enum class Pace : std::uint8_t { max, realtime };

struct FileOptions {
  std::string path;  // "-" reads standard input
  std::string bpf;   // empty: no filter
  Pace pace = Pace::max;
  double speed = 1.0;  // realtime only; must be > 0
};

struct LiveOptions {
  std::string interface;
  int snaplen = 262144;
  bool promiscuous = true;
  bool immediate = true;  // deliver each packet at once instead of batching per kernel block
  std::string bpf;
  int buffer_bytes = 0;  // kernel ring size; 0 keeps libpcap's default (2 MiB)
  int timeout_ms = 100;  // how long next() may block before returning `timeout`
};

struct RawPacket {
  std::int64_t ts_us = 0;  // seconds*1e6 + microseconds (nanosecond files are truncated to µs)
  std::uint32_t caplen = 0;
  std::uint32_t wirelen = 0;
  std::span<const std::byte> data;  // caplen bytes, valid until the next call to next()
};

enum class ReadStatus : std::uint8_t {
  packet,        // `out` holds a packet
  timeout,       // live: no packet within timeout_ms (time to flush/expire on the caller's side)
  end_of_input,  // file: no more packets
  stopped,       // request_stop() was called
  error,         // libpcap reported an error; last_error() says which. The source is unusable after it.
};

// Counters from the kernel (live) and from the replay (both).
struct SourceStats {
  std::uint64_t packets_read = 0;       // packets returned by next()
  bool kernel_stats_valid = false;      // live only, and only if pcap_stats() succeeded
  std::uint64_t kernel_received = 0;    // ps_recv
  std::uint64_t kernel_dropped = 0;     // ps_drop: the socket buffer was full
  std::uint64_t interface_dropped = 0;  // ps_ifdrop: dropped by the interface/driver
};

class PacketSource {
 public:
  static std::unique_ptr<PacketSource> open_file(const FileOptions& options);
  static std::unique_ptr<PacketSource> open_live(const LiveOptions& options);

  ~PacketSource();
  PacketSource(const PacketSource&) = delete;
  PacketSource& operator=(const PacketSource&) = delete;

  ReadStatus next(RawPacket& out) noexcept;

  // Safe to call from a signal handler or another thread: sets a flag and wakes a blocked next().
  void request_stop() noexcept;
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }

  int link_type() const noexcept { return link_type_; }  // DLT_* value, see decode/link_types.hpp
  const std::string& link_type_name() const noexcept { return link_type_name_; }
  bool is_live() const noexcept { return live_; }
  int snaplen() const noexcept;
  // Warnings from pcap_activate() (e.g. promiscuous mode not supported); empty for files.
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  const std::string& last_error() const noexcept { return last_error_; }
  const std::string& description() const noexcept { return description_; }  // "file x.pcap", "interface eth0"

  // Kernel counters are refreshed on each call for live sources; cheap enough for periodic reporting.
  SourceStats stats() noexcept;

 private:
  PacketSource(pcap* handle, bool live, std::string description);
  void apply_filter(const std::string& bpf, std::uint32_t netmask);
  bool wait_for_replay_time(std::int64_t ts_us) noexcept;
  // Live: waits up to timeout_ms_ for the capture socket (or a stop request) to become readable.
  // Returns packet when a read should be attempted, else timeout / stopped / error.
  ReadStatus wait_readable(std::int64_t deadline_ns) noexcept;

  pcap* handle_ = nullptr;
  bool live_ = false;
  int link_type_ = 0;
  std::string link_type_name_;
  std::string description_;
  std::vector<std::string> warnings_;
  std::string last_error_;
  std::atomic<bool> stop_{false};
  std::uint64_t packets_read_ = 0;

  // Live sources are non-blocking and wait in poll() on libpcap's selectable fd and on wake_fd_ (an
  // eventfd request_stop() writes), so a quiet link still returns `timeout` every timeout_ms_: libpcap's
  // own blocking read can wait forever when no packet arrives (TPACKET_V3 blocks until the kernel
  // retires a block, immediate mode polls without a timeout).
  int selectable_fd_ = -1;
  int wake_fd_ = -1;
  int timeout_ms_ = 100;

  // realtime replay: first packet's capture time and the monotonic clock at that moment
  Pace pace_ = Pace::max;
  double speed_ = 1.0;
  bool replay_started_ = false;
  std::int64_t replay_first_ts_us_ = 0;
  std::int64_t replay_first_clock_ns_ = 0;
};

// Live sources: registers the kernel's receive/drop counters (pcap_stats) in the agent's registry, read
// on the capture thread. Files have none.
void register_source_metrics(AgentMetrics& metrics, PacketSource& source);

}  // namespace flowguard::capture
