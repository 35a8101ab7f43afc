// make-big-pcap: writes a realistic synthetic capture for the capture-agent benchmark.
//
//   make-big-pcap OUT.pcap [PACKETS=1200000] [SEED=1]
//
// Ethernet/IPv4 traffic between 4096 clients and 256 servers: TCP connections (handshake, requests
// and responses of mixed sizes with ACKs, FIN teardown, some RST), DNS-like UDP exchanges and a little
// ICMP, ~2000 conversations interleaved at any time, ~8 µs between packets. Classic pcap, µs stamps.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Conversation {
  enum class Kind : std::uint8_t { tcp, udp, icmp } kind = Kind::tcp;
  std::uint32_t client = 0, server = 0;
  std::uint16_t cport = 0, sport = 0;
  int step = 0, exchanges = 0;
  std::uint32_t cseq = 0, sseq = 0;
};

class Writer {
 public:
  explicit Writer(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
    if (f_ == nullptr) {
      std::perror(path.c_str());
      std::exit(1);
    }
    const std::uint32_t magic = 0xa1b2c3d4, snaplen = 65535, linktype = 1, zero = 0;
    const std::uint16_t major = 2, minor = 4;
    std::fwrite(&magic, 4, 1, f_);
    std::fwrite(&major, 2, 1, f_);
    std::fwrite(&minor, 2, 1, f_);
    std::fwrite(&zero, 4, 1, f_);
    std::fwrite(&zero, 4, 1, f_);
    std::fwrite(&snaplen, 4, 1, f_);
    std::fwrite(&linktype, 4, 1, f_);
  }
  ~Writer() { std::fclose(f_); }

  void packet(std::int64_t ts_us, std::uint32_t src, std::uint32_t dst, std::uint8_t proto, std::uint16_t sp,
              std::uint16_t dp, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
              std::uint16_t payload) {
    std::size_t l4 = proto == 6 ? 20 : 8;
    std::size_t len = 14 + 20 + l4 + payload;
    buf_.assign(std::max<std::size_t>(len, 60), 0);
    std::uint8_t* p = buf_.data();
    const std::array<std::uint8_t, 12> macs{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
    std::copy(macs.begin(), macs.end(), p);
    p[12] = 0x08;
    p[13] = 0x00;
    std::uint8_t* ip = p + 14;
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(20 + l4 + payload));
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    std::uint8_t* t = ip + 20;
    if (proto == 6) {
      put16(t, sp);
      put16(t + 2, dp);
      put32(t + 4, seq);
      put32(t + 8, ack);
      t[12] = 0x50;
      t[13] = flags;
      put16(t + 14, 29200);
    } else if (proto == 17) {
      put16(t, sp);
      put16(t + 2, dp);
      put16(t + 4, static_cast<std::uint16_t>(8 + payload));
    } else {
      t[0] = static_cast<std::uint8_t>(sp);  // ICMP type
    }
    const std::uint32_t sec = static_cast<std::uint32_t>(ts_us / 1000000),
                        usec = static_cast<std::uint32_t>(ts_us % 1000000);
    const std::uint32_t cap = static_cast<std::uint32_t>(buf_.size());
    std::fwrite(&sec, 4, 1, f_);
    std::fwrite(&usec, 4, 1, f_);
    std::fwrite(&cap, 4, 1, f_);
    std::fwrite(&cap, 4, 1, f_);
    std::fwrite(buf_.data(), 1, buf_.size(), f_);
  }

 private:
  static void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }
  static void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
  }
  std::FILE* f_;
  std::vector<std::uint8_t> buf_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make-big-pcap OUT.pcap [PACKETS=1200000] [SEED=1]\n");
    return 2;
  }
  const long total = argc > 2 ? std::atol(argv[2]) : 1'200'000;
  std::mt19937_64 rng(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1);
  Writer w(argv[1]);

  auto fresh = [&](Conversation& c) {
    const auto r = rng() % 100;
    c.kind = r < 80 ? Conversation::Kind::tcp : (r < 98 ? Conversation::Kind::udp : Conversation::Kind::icmp);
    c.client = 0x0A000000u | static_cast<std::uint32_t>(rng() % 4096 + 256);
    c.server = 0xC0A80000u | static_cast<std::uint32_t>(rng() % 256 + 1);
    c.cport = static_cast<std::uint16_t>(1024 + rng() % 60000);
    const std::array<std::uint16_t, 4> tcp_ports{80, 443, 8080, 22};
    c.sport = c.kind == Conversation::Kind::udp ? 53 : tcp_ports[rng() % tcp_ports.size()];
    c.step = 0;
    c.exchanges = static_cast<int>(1 + rng() % 12);
    c.cseq = static_cast<std::uint32_t>(rng());
    c.sseq = static_cast<std::uint32_t>(rng());
  };

  std::vector<Conversation> live(2000);
  for (auto& c : live) fresh(c);
  std::int64_t ts = 1'700'000'000'000'000LL;
  constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
  std::uniform_int_distribution<int> request(40, 600), response(0, 1460);
  for (long n = 0; n < total; ++n) {
    ts += static_cast<std::int64_t>(1 + rng() % 15);
    Conversation& c = live[rng() % live.size()];
    bool done = false;
    switch (c.kind) {
      case Conversation::Kind::tcp: {
        // steps: 0 SYN, 1 SYN/ACK, 2 ACK, then per exchange: request, response(s), ACK; then FIN, FIN, ACK
        const int data_steps = 3 * c.exchanges;
        if (c.step == 0) {
          w.packet(ts, c.client, c.server, 6, c.cport, c.sport, SYN, c.cseq, 0, 0);
        } else if (c.step == 1) {
          w.packet(ts, c.server, c.client, 6, c.sport, c.cport, SYN | ACK, c.sseq, c.cseq + 1, 0);
        } else if (c.step == 2) {
          w.packet(ts, c.client, c.server, 6, c.cport, c.sport, ACK, c.cseq + 1, c.sseq + 1, 0);
        } else if (c.step < 3 + data_steps) {
          const int phase = (c.step - 3) % 3;
          if (phase == 0) {
            const auto len = static_cast<std::uint16_t>(request(rng));
            w.packet(ts, c.client, c.server, 6, c.cport, c.sport, PSH | ACK, c.cseq, c.sseq, len);
            c.cseq += len;
          } else if (phase == 1) {
            const auto len = static_cast<std::uint16_t>(response(rng));
            w.packet(ts, c.server, c.client, 6, c.sport, c.cport, PSH | ACK, c.sseq, c.cseq, len);
            c.sseq += len;
          } else {
            w.packet(ts, c.client, c.server, 6, c.cport, c.sport, ACK, c.cseq, c.sseq, 0);
          }
        } else if (rng() % 20 == 0) {
          w.packet(ts, c.client, c.server, 6, c.cport, c.sport, RST | ACK, c.cseq, c.sseq, 0);
          done = true;
        } else {
          const int t = c.step - 3 - data_steps;
          if (t == 0) w.packet(ts, c.client, c.server, 6, c.cport, c.sport, FIN | ACK, c.cseq, c.sseq, 0);
          if (t == 1) w.packet(ts, c.server, c.client, 6, c.sport, c.cport, FIN | ACK, c.sseq, c.cseq + 1, 0);
          if (t == 2) {
            w.packet(ts, c.client, c.server, 6, c.cport, c.sport, ACK, c.cseq + 1, c.sseq + 1, 0);
            done = true;
          }
        }
        break;
      }
      case Conversation::Kind::udp:
        if (c.step % 2 == 0) {
          w.packet(ts, c.client, c.server, 17, c.cport, c.sport, 0, 0, 0,
                   static_cast<std::uint16_t>(30 + rng() % 40));
        } else {
          w.packet(ts, c.server, c.client, 17, c.sport, c.cport, 0, 0, 0,
                   static_cast<std::uint16_t>(60 + rng() % 450));
        }
        done = c.step + 1 >= 2 * std::min(c.exchanges, 3);
        break;
      case Conversation::Kind::icmp:
        w.packet(ts, c.step % 2 == 0 ? c.client : c.server, c.step % 2 == 0 ? c.server : c.client, 1,
                 c.step % 2 == 0 ? 8 : 0, 0, 0, 0, 0, 56);
        done = c.step + 1 >= 4;
        break;
    }
    ++c.step;
    if (done) fresh(c);
  }
  std::fprintf(stderr, "make-big-pcap: wrote %ld packets to %s\n", total, argv[1]);
  return 0;
}
