// Live-capture probe for live_capture.sh: captures on a veth inside a network namespace the script
// created, decodes, and checks what the script sent. Not a Catch test because it must run inside
// `ip netns exec`.
//
//   live_probe count <iface> <ready-file> <udp-count> <icmp-count> <timeout-s>
//       exit 0 when <udp-count> UDP datagrams 10.201.0.1 -> 10.201.0.2:9999 and <icmp-count> echo
//       requests were captured and decoded before the timeout
//   live_probe wait-signal <iface> <ready-file>
//       block in next() until SIGTERM; exit 0 if the read returned `stopped`
//   live_probe quiet <iface> <ready-file> <immediate 0|1> <max-calls>
//       on a link nobody sends on: exit 0 when next() returns `timeout` (three times, so the wait
//       re-arms) within <max-calls> calls; a next() that never returns is caught by the script
#include "decode/decoder.hpp"
#include "source/packet_source.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

using namespace flowguard::capture;

namespace {

std::atomic<PacketSource*> g_source{nullptr};

extern "C" void on_signal(int) {
  if (PacketSource* s = g_source.load()) s->request_stop();
}

int fail(const std::string& why) {
  std::fprintf(stderr, "live_probe: FAIL: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return fail("usage: live_probe count|wait-signal <iface> <ready-file> ...");
  const std::string mode = argv[1];
  LiveOptions o;
  o.interface = argv[2];
  o.snaplen = 2048;
  o.immediate = true;
  o.timeout_ms = 100;
  o.bpf = "udp or icmp or arp";
  const std::string mode_arg = argv[1];
  if (mode_arg == "quiet") {
    if (argc < 6) return fail("quiet mode needs <immediate 0|1> <max-calls>");
    o.immediate = std::atoi(argv[4]) != 0;
    o.bpf.clear();  // everything counts: the link must be quiet, not filtered quiet
  }
  std::unique_ptr<PacketSource> src;
  try {
    src = PacketSource::open_live(o);
  } catch (const SourceError& e) {
    return fail(e.what());
  }
  for (const auto& w : src->warnings()) std::fprintf(stderr, "live_probe: warning: %s\n", w.c_str());
  if (mode_arg == "quiet") {
    g_source.store(src.get());
    std::signal(SIGTERM, on_signal);
    std::ofstream(argv[3]) << "ready\n";
    const long max_calls = std::atol(argv[5]);
    long timeouts = 0, packets = 0;
    RawPacket raw;
    for (long call = 0; call < max_calls && timeouts < 3; ++call) {
      const auto st = src->next(raw);
      if (st == ReadStatus::timeout)
        ++timeouts;
      else if (st == ReadStatus::packet)
        ++packets;
      else if (st == ReadStatus::stopped)
        return fail("stopped before a timeout");
      else
        return fail("read error: " + src->last_error());
    }
    std::printf("live_probe: quiet %s immediate=%d: %ld timeouts, %ld packets\n", o.interface.c_str(),
                o.immediate ? 1 : 0, timeouts, packets);
    return timeouts >= 3 ? 0 : fail("next() did not report the quiet link as timeouts");
  }
  if (src->link_type() != link_type::ethernet) return fail("veth link type is " + src->link_type_name());
  g_source.store(src.get());
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::ofstream(argv[3]) << "ready\n";

  if (mode == "wait-signal") {
    RawPacket raw;
    for (;;) {
      const auto st = src->next(raw);
      if (st == ReadStatus::stopped) {
        std::printf("live_probe: stopped by signal\n");
        return 0;
      }
      if (st == ReadStatus::error) return fail(src->last_error());
    }
  }
  if (mode != "count" || argc < 7) return fail("count mode needs <udp-count> <icmp-count> <timeout-s>");

  const long want_udp = std::atol(argv[4]), want_icmp = std::atol(argv[5]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atol(argv[6]));
  const IpAddress a{4, {10, 201, 0, 1}}, b{4, {10, 201, 0, 2}};
  long udp = 0, icmp = 0;
  DecodeCounters counters;
  RawPacket raw;
  DecodedPacket p;
  while ((udp < want_udp || icmp < want_icmp) && std::chrono::steady_clock::now() < deadline) {
    const auto st = src->next(raw);
    if (st == ReadStatus::timeout) continue;
    if (st == ReadStatus::stopped) break;
    if (st == ReadStatus::error) return fail(src->last_error());
    if (st != ReadStatus::packet) return fail("unexpected read status");
    if (decode_packet(src->link_type(), raw.data, raw.ts_us, raw.wirelen, p, counters) !=
        DecodeStatus::decoded)
      continue;
    if (!p.ethernet_ii_before_ip) return fail("veth frame not seen as plain Ethernet II");
    if (p.src == a && p.dst == b && p.ip_protocol == 17 && p.dst_port == 9999 && p.l4_header_len == 8) ++udp;
    if (p.src == a && p.dst == b && p.ip_protocol == 1 && p.icmp_type == 8) ++icmp;
  }
  const auto stats = src->stats();
  std::printf(
      "live_probe: udp=%ld icmp=%ld packets=%llu decoded=%llu not_ip=%llu malformed=%llu "
      "kernel_received=%llu "
      "kernel_dropped=%llu\n",
      udp, icmp, static_cast<unsigned long long>(counters.packets),
      static_cast<unsigned long long>(counters.decoded), static_cast<unsigned long long>(counters.not_ip),
      static_cast<unsigned long long>(counters.malformed),
      static_cast<unsigned long long>(stats.kernel_received),
      static_cast<unsigned long long>(stats.kernel_dropped));
  if (udp < want_udp || icmp < want_icmp) return fail("did not capture everything that was sent");
  if (!stats.kernel_stats_valid || stats.kernel_received < static_cast<std::uint64_t>(udp + icmp)) {
    return fail("kernel statistics missing or too small");
  }
  if (counters.malformed != 0) return fail("malformed packets on a clean veth");
  return 0;
}
