#include "source/packet_source.hpp"

#include <pcap/pcap.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace flowguard::capture {

namespace {

std::string link_name(pcap_t* p) {
  const int dlt = pcap_datalink(p);
  const char* name = pcap_datalink_val_to_name(dlt);
  return name != nullptr ? std::string{name} : "DLT " + std::to_string(dlt);
}

std::int64_t monotonic_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// pcap_activate() status, with the handle's own text when it has one (it names the interface and the
// system call that failed).
std::string activate_message(pcap_t* p, int status) {
  std::string text = pcap_statustostr(status);
  const char* detail = pcap_geterr(p);
  if (detail != nullptr && *detail != '\0' &&
      (status == PCAP_ERROR || status == PCAP_WARNING || status == PCAP_ERROR_NO_SUCH_DEVICE ||
       status == PCAP_ERROR_PERM_DENIED || status == PCAP_WARNING_PROMISC_NOTSUP)) {
    text += ": ";
    text += detail;
  }
  return text;
}

}  // namespace

PacketSource::PacketSource(pcap* handle, bool live, std::string description)
    : handle_(handle), live_(live), description_(std::move(description)) {}

PacketSource::~PacketSource() {
  if (handle_ != nullptr) pcap_close(handle_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::unique_ptr<PacketSource> PacketSource::open_file(const FileOptions& options) {
  if (options.pace == Pace::realtime && !(options.speed > 0.0)) {
    throw SourceError("replay speed must be > 0, got " + std::to_string(options.speed));
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Microsecond precision: libpcap truncates nanosecond pcap and fine pcapng if_tsresol to µs, which is
  // what the reference extractor sees (docs/features.md §1).
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(options.path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (p == nullptr) throw SourceError("cannot open capture file '" + options.path + "': " + errbuf);
  std::unique_ptr<PacketSource> src{new PacketSource(p, false, "file " + options.path)};
  src->link_type_ = pcap_datalink(p);
  src->link_type_name_ = link_name(p);
  src->pace_ = options.pace;
  src->speed_ = options.speed;
  src->apply_filter(options.bpf, PCAP_NETMASK_UNKNOWN);
  return src;
}

std::unique_ptr<PacketSource> PacketSource::open_live(const LiveOptions& options) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_create(options.interface.c_str(), errbuf);
  if (p == nullptr) throw SourceError("cannot open interface '" + options.interface + "': " + errbuf);
  std::unique_ptr<PacketSource> src{new PacketSource(p, true, "interface " + options.interface)};

  const auto check = [&](int rc, const char* what) {
    if (rc != 0) {
      throw SourceError("interface '" + options.interface + "': " + what +
                        " failed: " + pcap_statustostr(rc));
    }
  };
  check(pcap_set_snaplen(p, options.snaplen), "setting the snapshot length");
  check(pcap_set_promisc(p, options.promiscuous ? 1 : 0), "setting promiscuous mode");
  check(pcap_set_immediate_mode(p, options.immediate ? 1 : 0), "setting immediate mode");
  check(pcap_set_timeout(p, std::max(1, options.timeout_ms)), "setting the read timeout");
  if (options.buffer_bytes > 0)
    check(pcap_set_buffer_size(p, options.buffer_bytes), "setting the buffer size");
  check(pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO), "setting microsecond timestamps");

  const int status = pcap_activate(p);
  if (status < 0) {
    std::string hint;
    if (status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED) {
      hint = " (needs root or CAP_NET_RAW + CAP_NET_ADMIN)";
    }
    throw SourceError("cannot capture on interface '" + options.interface +
                      "': " + activate_message(p, status) + hint);
  }
  if (status > 0)
    src->warnings_.push_back("interface '" + options.interface + "': " + activate_message(p, status));

  src->link_type_ = pcap_datalink(p);
  src->link_type_name_ = link_name(p);

  bpf_u_int32 net = 0, mask = 0;
  if (pcap_lookupnet(options.interface.c_str(), &net, &mask, errbuf) != 0) mask = PCAP_NETMASK_UNKNOWN;
  src->apply_filter(options.bpf, mask);

  // Non-blocking reads plus our own poll() with the configured timeout (see packet_source.hpp).
  src->timeout_ms_ = std::max(1, options.timeout_ms);
  src->selectable_fd_ = pcap_get_selectable_fd(p);
  if (src->selectable_fd_ < 0) {
    throw SourceError("interface '" + options.interface + "': libpcap gives no selectable descriptor");
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    throw SourceError("interface '" + options.interface +
                      "': cannot switch to non-blocking reads: " + errbuf);
  }
  src->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (src->wake_fd_ < 0) {
    throw SourceError("interface '" + options.interface + "': eventfd failed: " + std::strerror(errno));
  }
  return src;
}

void PacketSource::apply_filter(const std::string& bpf, std::uint32_t netmask) {
  if (bpf.empty()) return;
  bpf_program program{};
  if (pcap_compile(handle_, &program, bpf.c_str(), 1, netmask) != 0) {
    throw SourceError("invalid BPF filter '" + bpf + "' on " + description_ + ": " + pcap_geterr(handle_));
  }
  const int rc = pcap_setfilter(handle_, &program);
  pcap_freecode(&program);
  if (rc != 0) {
    throw SourceError("cannot install BPF filter '" + bpf + "' on " + description_ + ": " +
                      pcap_geterr(handle_));
  }
}

int PacketSource::snaplen() const noexcept { return pcap_snapshot(handle_); }

void PacketSource::request_stop() noexcept {
  stop_.store(true, std::memory_order_relaxed);
  if (wake_fd_ >= 0) {
    // write() is async-signal-safe; a full counter (EAGAIN) already means "wake up".
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof(one));
  }
  pcap_breakloop(handle_);
}

ReadStatus PacketSource::wait_readable(std::int64_t deadline_ns) noexcept {
  for (;;) {
    if (stop_requested()) return ReadStatus::stopped;
    const std::int64_t left_ns = deadline_ns - monotonic_ns();
    if (left_ns <= 0) return ReadStatus::timeout;
    pollfd fds[2] = {{selectable_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int wait_ms =
        static_cast<int>(std::min<std::int64_t>((left_ns + 999'999) / 1'000'000, timeout_ms_));
    const int rc = ::poll(fds, 2, wait_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;  // a signal: the loop re-checks the stop flag
      last_error_ = description_ + ": poll failed: " + std::strerror(errno);
      return ReadStatus::error;
    }
    if (stop_requested()) return ReadStatus::stopped;
    if (rc == 0) continue;  // the deadline check above decides
    // Readable, or an error condition on the socket: let libpcap read and report it.
    return ReadStatus::packet;
  }
}

bool PacketSource::wait_for_replay_time(std::int64_t ts_us) noexcept {
  const std::int64_t now = monotonic_ns();
  if (!replay_started_) {
    replay_started_ = true;
    replay_first_ts_us_ = ts_us;
    replay_first_clock_ns_ = now;
    return true;
  }
  // Out-of-order timestamps (docs/features.md §1.5) are delivered at once rather than waited for.
  const double offset_ns = static_cast<double>(ts_us - replay_first_ts_us_) * 1000.0 / speed_;
  const std::int64_t due = replay_first_clock_ns_ + static_cast<std::int64_t>(offset_ns);
  // Sleep in slices so a stop request is honoured within ~50 ms even across long capture gaps.
  for (std::int64_t t = now; t < due; t = monotonic_ns()) {
    if (stop_requested()) return false;
    const std::int64_t slice = std::min<std::int64_t>(due - t, 50'000'000);
    std::this_thread::sleep_for(std::chrono::nanoseconds(slice));
  }
  return true;
}

ReadStatus PacketSource::next(RawPacket& out) noexcept {
  if (stop_requested()) return ReadStatus::stopped;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == 0 && live_) {
    // Nothing buffered: wait for the socket, a stop request or the timeout. A wake-up without a packet
    // (e.g. one the filter rejected, or a TPACKET_V3 block retired empty) waits again until the deadline.
    const std::int64_t deadline = monotonic_ns() + std::int64_t{timeout_ms_} * 1'000'000;
    while (rc == 0) {
      const ReadStatus waited = wait_readable(deadline);
      if (waited != ReadStatus::packet) return waited;
      rc = pcap_next_ex(handle_, &header, &data);
    }
  }
  switch (rc) {
    case 1:
      break;
    case 0:
      return stop_requested() ? ReadStatus::stopped : ReadStatus::timeout;
    case PCAP_ERROR_BREAK:
      // Files: end of input. Live: pcap_breakloop() from request_stop().
      if (stop_requested()) return ReadStatus::stopped;
      return live_ ? ReadStatus::stopped : ReadStatus::end_of_input;
    case PCAP_ERROR:
    default:
      last_error_ = description_ + ": " + pcap_geterr(handle_);
      return ReadStatus::error;
  }
  out.ts_us = std::int64_t{header->ts.tv_sec} * 1'000'000 + header->ts.tv_usec;
  out.caplen = header->caplen;
  out.wirelen = header->len;
  out.data = {reinterpret_cast<const std::byte*>(data), header->caplen};
  if (!live_ && pace_ == Pace::realtime && !wait_for_replay_time(out.ts_us)) return ReadStatus::stopped;
  ++packets_read_;
  return ReadStatus::packet;
}

SourceStats PacketSource::stats() noexcept {
  SourceStats s;
  s.packets_read = packets_read_;
  if (live_) {
    pcap_stat ps{};
    if (pcap_stats(handle_, &ps) == 0) {
      s.kernel_stats_valid = true;
      s.kernel_received = ps.ps_recv;
      s.kernel_dropped = ps.ps_drop;
      s.interface_dropped = ps.ps_ifdrop;
    }
  }
  return s;
}

void register_source_metrics(AgentMetrics& metrics, PacketSource& source) {
  if (!source.is_live()) return;
  PacketSource* s = &source;
  metrics.mirror_counter(
      {"flowguard_capture_kernel_received_total", "Packets the kernel saw (pcap_stats)", "kernel_received"},
      [s] { return s->stats().kernel_received; });
  metrics.mirror_counter(
      {"flowguard_capture_kernel_dropped_total", "Packets dropped: socket buffer full", "kernel_dropped"},
      [s] { return s->stats().kernel_dropped; });
  metrics.mirror_counter(
      {"flowguard_capture_interface_dropped_total", "Packets dropped by the interface", "interface_dropped"},
      [s] { return s->stats().interface_dropped; });
}

}  // namespace flowguard::capture
