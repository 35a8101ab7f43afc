// Enforcement costs, measured by hand (root needed for the nftables part):
//   bench_enforce [iterations] [no-nft]
// 1. verdict path in dry-run: Enforcement::on_verdict for a flood from one source (folded alerts)
// 2. verdict path for block verdicts from many distinct sources (dry-run decisions)
// 3. allowlist lookup with 1000 CIDRs
// 4. event store: rows per second through the writer thread
// 5. nftables: block + unblock transactions per second in a throw-away network namespace
#include "enforce/enforcement.hpp"
#include "enforce/nft_blocker.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace flowguard::capture;
using namespace flowguard::capture::enforce;
using clk = std::chrono::steady_clock;

namespace {

double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

FlowVerdict make_verdict(std::uint32_t src, VerdictAction action, std::int64_t ts_us) {
  FlowVerdict v;
  v.src.family = 4;
  v.src.bytes = {10, static_cast<std::uint8_t>(src >> 16), static_cast<std::uint8_t>(src >> 8),
                 static_cast<std::uint8_t>(src)};
  v.dst = *parse_address("10.0.0.9");
  v.src_port = 40000;
  v.dst_port = 80;
  v.protocol = 6;
  v.first_ts_us = ts_us - 1000;
  v.last_ts_us = ts_us;
  v.action = action;
  v.predicted_class = "DDoS";
  v.score = 0.99f;
  v.threshold = 0.9f;
  v.model_name = "cnn-lstm";
  v.model_version = "1";
  v.top_features = {{"SYN Flag Count", 1, 0.3f}};
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200'000;
  spdlog::set_level(spdlog::level::warn);
  const auto dir =
      std::filesystem::temp_directory_path() / ("fg-bench-enforce-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  {
    EnforceOptions o;
    o.mode = "dry-run";
    o.control_socket = "none";
    o.state_dir = "none";
    o.quiet_alerts = true;
    o.alerts_path = (dir / "eve.json").string();
    o.events_path = (dir / "events.db").string();
    o.max_blocks = 1'000'000;
    auto e = Enforcement::create(o, "bench");
    auto t0 = clk::now();
    for (int i = 0; i < n; ++i)
      e->on_verdict(make_verdict(1, VerdictAction::block, 1'700'000'000'000'000 + i * 100LL));
    double s = seconds_since(t0);
    std::printf(
        "flood, one source (block verdicts, folded): %d verdicts in %.3f s = %.0f verdicts/s (%.2f us each), "
        "alerts emitted %llu\n",
        n, s, n / s, s * 1e6 / n, static_cast<unsigned long long>(e->alerts().emitted()));
    const int m = n / 10;
    t0 = clk::now();
    for (int i = 0; i < m; ++i)
      e->on_verdict(make_verdict(1000 + i, VerdictAction::block, 1'700'000'100'000'000 + i));
    s = seconds_since(t0);
    std::printf(
        "distinct sources (dry-run block + EVE line + event row each): %d in %.3f s = %.0f/s (%.2f us "
        "each)\n",
        m, s, m / s, s * 1e6 / m);
    t0 = clk::now();
    e->events()->flush();
    std::printf("  event store drained %.3f s after; written %llu, dropped %llu\n", seconds_since(t0),
                static_cast<unsigned long long>(e->events()->written()),
                static_cast<unsigned long long>(e->events()->dropped()));
    e->stop();
  }
  {
    Allowlist a;
    for (int i = 0; i < 1000; ++i)
      (void)a.add("172." + std::to_string(16 + i % 16) + "." + std::to_string(i % 256) + ".0/24");
    const IpAddress probe = *parse_address("203.0.113.9");
    auto t0 = clk::now();
    int hits = 0;
    for (int i = 0; i < n; ++i) hits += a.contains(probe) ? 1 : 0;
    const double s = seconds_since(t0);
    std::printf("allowlist of 1000 CIDRs, miss: %.0f ns per lookup (%d hits)\n", s * 1e9 / n, hits);
  }
  const bool want_nft = argc <= 2 || std::string(argv[2]) != "no-nft";
  if (want_nft && ::geteuid() == 0 && std::system("ip netns add fg-bench-enforce >/dev/null 2>&1") == 0) {
    const int orig = ::open("/proc/thread-self/ns/net", O_RDONLY);
    const int ns = ::open("/run/netns/fg-bench-enforce", O_RDONLY);
    if (::setns(ns, CLONE_NEWNET) == 0) {
      NftBlocker nft("flowguard");
      (void)nft.prepare({});
      const int k = 2000;
      auto t0 = clk::now();
      for (int i = 0; i < k; ++i) {
        IpAddress a{};
        a.family = 4;
        a.bytes = {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        if (const auto st = nft.add(a, 600); !st)
          std::printf("nft add failed: %s\n", st.error().message.c_str());
      }
      double s = seconds_since(t0);
      std::printf("nftables add (new element, one transaction each): %d in %.3f s = %.0f/s (%.0f us each)\n",
                  k, s, k / s, s * 1e6 / k);
      t0 = clk::now();
      for (int i = 0; i < k; ++i) {
        IpAddress a{};
        a.family = 4;
        a.bytes = {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        (void)nft.add(a, 600);
      }
      s = seconds_since(t0);
      std::printf("nftables renew (existing element, %d in set): %.0f us each\n", k, s * 1e6 / k);
      t0 = clk::now();
      for (int i = 0; i < k; ++i) {
        IpAddress a{};
        a.family = 4;
        a.bytes = {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        (void)nft.remove(a);
      }
      s = seconds_since(t0);
      std::printf("nftables remove: %.0f us each\n", s * 1e6 / k);
      ::setns(orig, CLONE_NEWNET);
    }
    ::close(ns);
    ::close(orig);
    [[maybe_unused]] int rc = std::system("ip netns del fg-bench-enforce >/dev/null 2>&1");
  } else {
    std::printf("nftables part skipped (needs root and ip netns)\n");
  }
  std::filesystem::remove_all(dir);
}
