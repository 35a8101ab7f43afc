// Writes a large event store through the agent's own EventStore (same schema, same indexes) for the
// console benchmark (bench/console/run.sh):
//   console-make-store PATH [alerts=1000000] [days=7]
// Alerts are spread evenly over the last `days` days of wall time, in time order as an agent writes
// them; classes, sources and actions are skewed like a real store (a few loud scanners, many quiet
// hosts, most alerts of one class, 1 in 10 carrying its EVE line, the others folded).
#include "enforce/event_store.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

using namespace flowguard::capture::enforce;

// GCC 12 warns about std::string assignments in this loop (-Wrestrict false positive, GCC PR 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH [alerts] [days]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const long n = argc > 2 ? std::atol(argv[2]) : 1'000'000;
  const int days = argc > 3 ? std::atoi(argv[3]) : 7;
  const char* classes[] = {"Portscan",
                           "DoS Hulk",
                           "DDoS",
                           "DoS GoldenEye",
                           "FTP-Patator",
                           "SSH-Patator",
                           "DoS slowloris",
                           "DoS Slowhttptest",
                           "Bot",
                           "Web Attack - Brute Force",
                           "Web Attack - XSS",
                           "Infiltration - Portscan",
                           "Web Attack - SQL Injection",
                           "Heartbleed",
                           "Infiltration"};
  // Class i has weight 1/(i+1)^2: Portscan about 2/3 of all alerts, Infiltration a few hundred.
  std::vector<double> w;
  for (int i = 0; i < 15; ++i) w.push_back(1.0 / ((i + 1.0) * (i + 1.0)));
  std::discrete_distribution<int> cls(w.begin(), w.end());
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t span_us = static_cast<std::int64_t>(days) * 86'400'000'000LL;

  EventStoreOptions o;
  o.path = path;
  o.retention_days = 0;
  o.queue_capacity = 65536;
  o.batch_max = 4096;
  EventStore store(o);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    AlertEvent a;
    a.ts_us = now_us - span_us +
              static_cast<std::int64_t>(static_cast<double>(span_us) *
                                        (static_cast<double>(i) / static_cast<double>(n)));
    a.flow_id = static_cast<std::uint64_t>(i);
    // Sources: Zipf-like over 5000 hosts (host k with probability ~ 1/k).
    const int src = static_cast<int>(std::exp(u(rng) * std::log(5000.0)));
    a.src_ip = fmt::format("10.{}.{}.7", src / 250 % 250, src % 250);
    a.dest_ip = fmt::format("192.168.1.{}", 1 + static_cast<int>(u(rng) * 200));
    a.src_port = static_cast<std::uint16_t>(1024 + rng() % 60000);
    a.dest_port = static_cast<std::uint16_t>(u(rng) < 0.5 ? 80 : 1 + rng() % 1024);
    a.proto = "TCP";
    a.predicted_class = classes[cls(rng)];
    a.score = 0.8 + 0.2 * u(rng);
    a.threshold = 0.8;
    a.action = u(rng) < 0.2 ? "block" : "alert";
    a.enforcement = a.action == "block" ? "blocked" : "none";
    a.model = "flowguard-default";
    a.model_version = "1";
    a.reason = fmt::format("{} score above threshold", a.predicted_class);
    if (i % 10 == 0)
      a.eve_json = fmt::format(
          R"({{"timestamp":"2026-01-01T00:00:00.000000+0000","event_type":"alert","src_ip":"{}","dest_ip":"{}",)"
          R"("proto":"TCP","alert":{{"signature":"{}","category":"flowguard ML verdict","severity":1}}}})",
          a.src_ip, a.dest_ip, a.predicted_class);
    while (!store.record(a)) store.flush();  // queue full: wait for the writer, never drop here
    if (i % 5000 == 0 && i / 5000 % 20 == 0) {
      BlockEvent b;
      b.ts_ms = now_us / 1000 - span_us / 1000 + (span_us / 1000) * i / n;
      b.address = fmt::format("10.0.{}.7", i / 5000 % 250);
      b.reason = "Portscan";
      b.model_version = "1";
      b.expires_ms = b.ts_ms + 600'000;
      b.outcome = "blocked";
      while (!store.record(b)) store.flush();
    }
  }
  store.flush();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "%ld alerts over %d days written to %s in %.1f s (%.0f rows/s), %llu queue-full retries, %llu errors\n",
      n, days, path.c_str(), s, static_cast<double>(n) / s, static_cast<unsigned long long>(store.dropped()),
      static_cast<unsigned long long>(store.write_errors()));
  return store.write_errors() == 0 ? 0 : 1;
}
