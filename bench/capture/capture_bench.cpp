// capture-bench: packets per second of flowguard-capture on a capture file, against a bare
// pcap_next_ex loop over the same file in the same run (best of N runs each, file in page cache).
//
//   capture-bench BIG.pcap PATH/TO/flowguard-capture [--profile corrected|cicids2017] [--runs 3]
//
// Prints, per variant: seconds, packets, packets/s, and the agent's share of the bare loop's rate.
//   bare         pcap_next_ex only
//   in-process   PacketSource + decode_packet + FlowEngine in batches of 32 (no output), this process
//   in-proc+hc   the same with the host-context table (capture/context) fed by the engine and read on
//                every record: the cost of the feature group per packet
//   agent        flowguard-capture -r BIG.pcap --profile P --csv /dev/null --no-server (a child process)

#include "decode/decoder.hpp"
#include "flow/flow_engine.hpp"
#include "source/packet_source.hpp"

#include <pcap/pcap.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace flowguard::capture;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU time (user + system) of this thread: with several engineers' builds sharing two cores, wall time
// is noisy; CPU time is what the agent itself costs.
double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double wall = 1e30, cpu = 1e30;
  void keep_best(double w, double c) {
    wall = std::min(wall, w);
    cpu = std::min(cpu, c);
  }
};

std::uint64_t bare_loop(const std::string& path, double& secs) {
  char err[PCAP_ERRBUF_SIZE];
  const auto start = Clock::now();
  // Opened exactly as PacketSource::open_file opens it (µs precision), so the comparison is like for like.
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
  if (p == nullptr) {
    std::fprintf(stderr, "pcap_open_offline: %s\n", err);
    std::exit(1);
  }
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  std::uint64_t n = 0, bytes = 0;
  while (pcap_next_ex(p, &h, &data) == 1) {
    ++n;
    bytes += h->caplen;
  }
  pcap_close(p);
  secs = seconds_since(start);
  if (bytes == 0) std::fprintf(stderr, "empty capture\n");
  return n;
}

std::uint64_t in_process(const std::string& path, features::Profile profile, double& secs,
                         bool host_context = false) {
  const auto start = Clock::now();
  FileOptions fo;
  fo.path = path;
  auto source = PacketSource::open_file(fo);
  EngineConfig config;
  config.profile = profile;
  std::unique_ptr<context::HostContextTable> table;
  if (host_context) table = std::make_unique<context::HostContextTable>(context::HostContextConfig{});
  auto engine = FlowEngine::create(config, {}, table.get());
  RawPacket raw;
  std::vector<DecodedPacket> batch(FlowEngine::max_batch);
  std::size_t batched = 0;
  DecodeCounters counters;
  std::uint64_t n = 0;
  while (source->next(raw) == ReadStatus::packet) {
    ++n;
    if (decode_packet(source->link_type(), raw.data, raw.ts_us, raw.wirelen, batch[batched], counters) ==
            DecodeStatus::decoded &&
        ++batched == batch.size()) {
      engine->on_packets({batch.data(), batched});
      batched = 0;
    }
  }
  engine->on_packets({batch.data(), batched});
  engine->finish();
  secs = seconds_since(start);
  return n;
}

void agent(const std::string& binary, const std::string& path, const std::string& profile, double& secs,
           double& cpu) {
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::FILE* devnull = std::freopen("/dev/null", "w", stderr);
    (void)devnull;
    execl(binary.c_str(), binary.c_str(), "-r", path.c_str(), "--profile", profile.c_str(), "--csv",
          "/dev/null", "--no-server", "--stats-interval", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  secs = seconds_since(start);
  cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "flowguard-capture failed (status %d)\n", status);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: capture-bench BIG.pcap flowguard-capture [--profile P] [--runs N]\n");
    return 2;
  }
  const std::string path = argv[1], binary = argv[2];
  std::string profile = "corrected";
  int runs = 3;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--profile") == 0) profile = argv[i + 1];
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  }
  const auto prof = features::parse_profile(profile).value_or(features::Profile::corrected);

  Timing bare, in, hc, ag;
  double s = 0, c0 = 0, cpu = 0;
  std::uint64_t packets = 0;
  for (int r = 0; r < runs; ++r) {
    c0 = thread_cpu();
    packets = bare_loop(path, s);
    bare.keep_best(s, thread_cpu() - c0);
    c0 = thread_cpu();
    in_process(path, prof, s);
    in.keep_best(s, thread_cpu() - c0);
    c0 = thread_cpu();
    in_process(path, prof, s, true);
    hc.keep_best(s, thread_cpu() - c0);
    agent(binary, path, profile, s, cpu);
    ag.keep_best(s, cpu);
  }
  const auto report = [&](const char* name, const Timing& t) {
    std::printf(
        "%-11s wall %7.3f s %11.0f pkt/s %6.1f%% of bare | cpu %7.3f s %11.0f pkt/s %6.1f%% of bare\n", name,
        t.wall, static_cast<double>(packets) / t.wall, 100.0 * bare.wall / t.wall, t.cpu,
        static_cast<double>(packets) / t.cpu, 100.0 * bare.cpu / t.cpu);
  };
  std::printf("capture-bench: %s, %llu packets, profile %s, best of %d runs\n", path.c_str(),
              static_cast<unsigned long long>(packets), profile.c_str(), runs);
  report("bare", bare);
  report("in-process", in);
  report("in-proc+hc", hc);
  report("agent", ag);
  return 0;
}
