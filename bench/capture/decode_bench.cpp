// Decoder and file-source throughput. Run by hand:
//   bench_decode <capture.pcap|pcapng> [repeat]
// Loads every packet of the file into memory, then decodes the whole set `repeat` times (default 20)
// and reports ns/packet and packets/s; also times one pass of PacketSource reading the file at max pace.
#include "decode/decoder.hpp"
#include "source/packet_source.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace flowguard::capture;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_decode <capture file> [repeat]\n");
    return 2;
  }
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 20;
  FileOptions o;
  o.path = argv[1];

  // 1) File reading through libpcap (includes the kernel page cache, not the disk, after a warm-up).
  std::vector<std::vector<std::byte>> frames;
  std::vector<std::int64_t> stamps;
  int link = 0;
  double read_s = 0;
  for (int pass = 0; pass < 2; ++pass) {
    auto src = PacketSource::open_file(o);
    link = src->link_type();
    RawPacket raw;
    const auto t0 = clock_type::now();
    std::size_t n = 0;
    while (src->next(raw) == ReadStatus::packet) {
      ++n;
      if (pass == 1) {
        frames.emplace_back(raw.data.begin(), raw.data.end());
        stamps.push_back(raw.ts_us);
      }
    }
    if (pass == 0) read_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  }
  if (frames.empty()) {
    std::fprintf(stderr, "no packets in %s\n", argv[1]);
    return 1;
  }
  std::size_t bytes = 0;
  for (const auto& f : frames) bytes += f.size();

  // 2) Decoding from memory.
  DecodeCounters counters;
  DecodedPacket p;
  std::uint64_t sink = 0;
  const auto t0 = clock_type::now();
  for (int r = 0; r < repeat; ++r) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      decode_packet(link, frames[i], stamps[i], static_cast<std::uint32_t>(frames[i].size()), p, counters);
      sink += p.src_port;
    }
  }
  const double dec_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  const double n = static_cast<double>(frames.size()) * repeat;
  std::printf("file %s: %zu packets, %.1f MB, link type %d\n", argv[1], frames.size(), bytes / 1e6, link);
  std::printf("read (PacketSource, max pace, cold-ish first pass): %.3f s, %.2f Mpkt/s\n", read_s,
              static_cast<double>(frames.size()) / read_s / 1e6);
  std::printf("decode: %.1f ns/packet, %.2f Mpkt/s, %.2f Gbit/s of captured bytes (repeat %d)\n",
              dec_s / n * 1e9, n / dec_s / 1e6, static_cast<double>(bytes) * repeat * 8 / dec_s / 1e9,
              repeat);
  std::printf("outcomes per pass: decoded %llu, not_ip %llu, malformed %llu (checksum %llu)\n",
              static_cast<unsigned long long>(counters.decoded / repeat),
              static_cast<unsigned long long>(counters.not_ip / repeat),
              static_cast<unsigned long long>(counters.malformed / repeat),
              static_cast<unsigned long long>(sink));
  return 0;
}
