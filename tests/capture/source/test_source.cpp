// PacketSource on real files written by the test: classic pcap (µs and ns), pcapng (if_tsresol,
// if_tsoffset), libpcap's own dumper, BPF filters, replay pacing, stop requests, and open/read errors.
#include "decode/decoder.hpp"
#include "fixtures/pcap_writer.hpp"
#include "source/packet_source.hpp"

#include <catch2/catch.hpp>
#include <pcap/pcap.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace flowguard::capture;
using namespace flowguard::test;

namespace {

Bytes udp_frame(std::uint16_t dport, std::size_t payload = 10) {
  return FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 17).udp(40000, dport).payload(payload).build();
}
Bytes tcp_frame(std::uint16_t dport) {
  return FrameBuilder{}
      .ethernet(0x0800)
      .ipv4(host_a, host_b, 6)
      .tcp(40001, dport, tcp_flag::syn, 1024)
      .pad_to(60)
      .build();
}

FileOptions file(const std::string& path, std::string bpf = {}, Pace pace = Pace::max, double speed = 1.0) {
  FileOptions o;
  o.path = path;
  o.bpf = std::move(bpf);
  o.pace = pace;
  o.speed = speed;
  return o;
}

struct Read {
  std::vector<RawPacket> meta;  // data spans are cleared (they die with the next read)
  std::vector<Bytes> data;
  ReadStatus final_status = ReadStatus::packet;
};

Read read_all(PacketSource& src) {
  Read r;
  RawPacket p;
  for (int guard = 0; guard < 100000; ++guard) {
    const auto st = src.next(p);
    if (st != ReadStatus::packet) {
      r.final_status = st;
      break;
    }
    r.data.emplace_back(p.data.begin(), p.data.end());
    p.data = {};
    r.meta.push_back(p);
  }
  return r;
}

}  // namespace

TEST_CASE("pcap with microsecond timestamps reads back packet by packet", "[source]") {
  TempDir dir;
  const std::vector<TestPacket> packets{{1700000000, 123456, udp_frame(53), 0},
                                        {1700000001, 999999, tcp_frame(80), 1514},
                                        {1700000001, 5, udp_frame(123, 200), 0}};
  write_pcap(dir.file("us.pcap"), packets);
  auto src = PacketSource::open_file(file(dir.file("us.pcap")));
  CHECK(src->link_type() == link_type::ethernet);
  CHECK(src->link_type_name() == "EN10MB");
  CHECK_FALSE(src->is_live());
  CHECK(src->snaplen() == 65535);
  const auto r = read_all(*src);
  CHECK(r.final_status == ReadStatus::end_of_input);
  REQUIRE(r.meta.size() == 3);
  CHECK(r.meta[0].ts_us == 1700000000'123456);
  CHECK(r.meta[1].ts_us == 1700000001'999999);
  CHECK(r.meta[2].ts_us == 1700000001'000005);
  CHECK(r.meta[1].caplen == 60);
  CHECK(r.meta[1].wirelen == 1514);
  for (std::size_t i = 0; i < 3; ++i) CHECK(r.data[i] == packets[i].data);
  CHECK(src->stats().packets_read == 3);
  CHECK_FALSE(src->stats().kernel_stats_valid);
  // After the end, the source keeps saying so.
  RawPacket p;
  CHECK(src->next(p) == ReadStatus::end_of_input);
}

TEST_CASE("nanosecond pcap timestamps are truncated to microseconds", "[source]") {
  TempDir dir;
  write_pcap(dir.file("ns.pcap"), {{100, 123456789, udp_frame(1), 0}, {100, 999999999, udp_frame(2), 0}},
             {.link_type = 1, .nanosecond = true, .snaplen = 65535});
  auto src = PacketSource::open_file(file(dir.file("ns.pcap")));
  const auto r = read_all(*src);
  REQUIRE(r.meta.size() == 2);
  CHECK(r.meta[0].ts_us == 100'123456);
  CHECK(r.meta[1].ts_us == 100'999999);
}

TEST_CASE("pcapng: nanosecond if_tsresol truncates, if_tsoffset adds seconds", "[source]") {
  TempDir dir;
  const std::vector<TestPacket> packets{{50, 123456789, udp_frame(7), 0}, {51, 1, tcp_frame(8), 0}};
  write_pcapng(dir.file("ns.pcapng"), packets,
               {.link_type = 1, .tsresol = 9, .tsoffset = 1000, .snaplen = 0});
  auto src = PacketSource::open_file(file(dir.file("ns.pcapng")));
  CHECK(src->link_type() == link_type::ethernet);
  const auto r = read_all(*src);
  CHECK(r.final_status == ReadStatus::end_of_input);
  REQUIRE(r.meta.size() == 2);
  CHECK(r.meta[0].ts_us == 1050'123456);
  CHECK(r.meta[1].ts_us == 1051'000000);
  CHECK(r.data[1] == packets[1].data);

  write_pcapng(dir.file("us.pcapng"), {{7, 42, udp_frame(9), 0}});
  auto us = PacketSource::open_file(file(dir.file("us.pcapng")));
  const auto u = read_all(*us);
  REQUIRE(u.meta.size() == 1);
  CHECK(u.meta[0].ts_us == 7'000042);
}

TEST_CASE("the link type of the file reaches the decoder (raw IP, SLL2, NULL)", "[source]") {
  TempDir dir;
  const auto ip = FrameBuilder{}.ipv4(host_c, host_d, 6).tcp(5, 6, tcp_flag::ack, 7).build();
  write_pcap(dir.file("raw.pcap"), {{1, 0, ip, 0}}, {.link_type = 101});
  write_pcap(dir.file("sll2.pcap"), {{1, 0, FrameBuilder{}.sll2(0x0800).raw(ip).build(), 0}},
             {.link_type = 276});
  write_pcap(dir.file("null.pcap"), {{1, 0, FrameBuilder{}.null_af(2, true).raw(ip).build(), 0}},
             {.link_type = 0});
  for (const char* name : {"raw.pcap", "sll2.pcap", "null.pcap"}) {
    INFO(name);
    auto src = PacketSource::open_file(file(dir.file(name)));
    CHECK(is_supported_link_type(src->link_type()));
    RawPacket raw;
    REQUIRE(src->next(raw) == ReadStatus::packet);
    DecodedPacket p;
    DecodeCounters c;
    REQUIRE(decode_packet(src->link_type(), raw.data, raw.ts_us, raw.wirelen, p, c) == DecodeStatus::decoded);
    CHECK(p.src_port == 5);
    CHECK(p.dst.bytes[0] == 172);
    CHECK(p.ts_us == 1'000000);
  }
}

TEST_CASE("files written by libpcap's own dumper read back", "[source]") {
  TempDir dir;
  const std::string path = dir.file("dumped.pcap");
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
  REQUIRE(dead != nullptr);
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  REQUIRE(dumper != nullptr);
  const auto frame = udp_frame(4789, 50);
  for (int i = 0; i < 5; ++i) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1000 + i;
    h.ts.tv_usec = 777777777;  // nanoseconds, as the dead handle's precision says
    h.caplen = static_cast<bpf_u_int32>(frame.size());
    h.len = h.caplen;
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h, reinterpret_cast<const u_char*>(frame.data()));
  }
  pcap_dump_close(dumper);
  pcap_close(dead);

  auto src = PacketSource::open_file(file(path));
  const auto r = read_all(*src);
  REQUIRE(r.meta.size() == 5);
  CHECK(r.meta[4].ts_us == 1004'777777);
  CHECK(r.data[4] == frame);
}

TEST_CASE("a BPF filter selects packets, an invalid one fails at open with the reason", "[source]") {
  TempDir dir;
  write_pcap(dir.file("mix.pcap"), {{1, 0, udp_frame(53), 0},
                                    {2, 0, tcp_frame(80), 0},
                                    {3, 0, udp_frame(54), 0},
                                    {4, 0, tcp_frame(443), 0}});
  auto tcp_only = PacketSource::open_file(file(dir.file("mix.pcap"), "tcp"));
  const auto r = read_all(*tcp_only);
  REQUIRE(r.meta.size() == 2);
  CHECK(r.meta[0].ts_us == 2'000000);
  CHECK(r.meta[1].ts_us == 4'000000);

  auto port = PacketSource::open_file(file(dir.file("mix.pcap"), "udp dst port 54"));
  const auto p = read_all(*port);
  REQUIRE(p.meta.size() == 1);
  CHECK(p.meta[0].ts_us == 3'000000);

  try {
    (void)PacketSource::open_file(file(dir.file("mix.pcap"), "tcp and and"));
    FAIL("invalid filter accepted");
  } catch (const SourceError& e) {
    const std::string what = e.what();
    CHECK(what.find("invalid BPF filter 'tcp and and'") != std::string::npos);
    CHECK(what.find("syntax error") != std::string::npos);
  }
}

TEST_CASE("open errors say which file and why", "[source]") {
  TempDir dir;
  try {
    (void)PacketSource::open_file(file(dir.file("missing.pcap")));
    FAIL("missing file opened");
  } catch (const SourceError& e) {
    const std::string what = e.what();
    CHECK(what.find("missing.pcap") != std::string::npos);
    CHECK(what.find("No such file") != std::string::npos);
  }
  {
    std::ofstream junk(dir.file("junk.pcap"), std::ios::binary);
    junk << "this is not a capture file at all";
  }
  CHECK_THROWS_AS(PacketSource::open_file(file(dir.file("junk.pcap"))), SourceError);
  CHECK_THROWS_AS(PacketSource::open_file(file(dir.file("x"), "", Pace::realtime, 0)), SourceError);
  CHECK_THROWS_AS(PacketSource::open_live([] {
                    LiveOptions o;
                    o.interface = "fg-no-such-if0";
                    return o;
                  }()),
                  SourceError);
}

TEST_CASE("a corrupt record is a read error, not a crash, and earlier packets survive", "[source]") {
  TempDir dir;
  const std::string path = dir.file("cut.pcap");
  write_pcap(path, {{1, 0, udp_frame(1), 0}, {2, 0, udp_frame(2), 0}});
  {
    // A third record header that claims 64 MiB: libpcap refuses it.
    std::ofstream f(path, std::ios::binary | std::ios::app);
    const std::uint32_t rec[4] = {3, 0, 64u << 20, 64u << 20};
    f.write(reinterpret_cast<const char*>(rec), sizeof rec);
    f << "short";
  }
  auto src = PacketSource::open_file(file(path));
  const auto r = read_all(*src);
  CHECK(r.meta.size() == 2);
  CHECK(r.final_status == ReadStatus::error);
  CHECK(src->last_error().find("cut.pcap") != std::string::npos);
  CHECK_FALSE(src->last_error().empty());

  // A file cut in the middle of a packet: libpcap reports the truncation as an error too.
  const std::string cut2 = dir.file("cut2.pcap");
  write_pcap(cut2, {{1, 0, udp_frame(1), 0}, {2, 0, udp_frame(2, 500), 0}});
  std::filesystem::resize_file(cut2, std::filesystem::file_size(cut2) - 100);
  auto src2 = PacketSource::open_file(file(cut2));
  const auto r2 = read_all(*src2);
  CHECK(r2.meta.size() == 1);
  CHECK(r2.final_status == ReadStatus::error);
}

TEST_CASE("realtime replay reproduces the capture's gaps (scaled), max pace does not wait", "[source]") {
  TempDir dir;
  // Gaps of 150 ms and 150 ms: 300 ms of capture time.
  write_pcap(dir.file("gaps.pcap"),
             {{10, 0, udp_frame(1), 0}, {10, 150000, udp_frame(2), 0}, {10, 300000, udp_frame(3), 0}});
  using clock = std::chrono::steady_clock;

  auto realtime = PacketSource::open_file(file(dir.file("gaps.pcap"), "", Pace::realtime, 2.0));
  const auto t0 = clock::now();
  const auto r = read_all(*realtime);
  const auto elapsed = clock::now() - t0;
  REQUIRE(r.meta.size() == 3);
  // At speed 2 the replay cannot finish before 150 ms (a lower bound: behaviour, not a speed claim).
  CHECK(elapsed >= std::chrono::milliseconds(145));

  auto fast = PacketSource::open_file(file(dir.file("gaps.pcap")));
  const auto f = read_all(*fast);
  CHECK(f.meta.size() == 3);
}

TEST_CASE("request_stop ends a realtime replay waiting in a long gap", "[source]") {
  TempDir dir;
  write_pcap(dir.file("long-gap.pcap"), {{10, 0, udp_frame(1), 0}, {3610, 0, udp_frame(2), 0}});  // one hour
  auto src = PacketSource::open_file(file(dir.file("long-gap.pcap"), "", Pace::realtime, 1.0));
  RawPacket p;
  REQUIRE(src->next(p) == ReadStatus::packet);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    src->request_stop();
  });
  const auto st = src->next(p);  // would wait an hour without the stop
  stopper.join();
  CHECK(st == ReadStatus::stopped);
  CHECK(src->stop_requested());
  CHECK(src->next(p) == ReadStatus::stopped);
}
