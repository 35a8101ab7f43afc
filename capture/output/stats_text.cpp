#include "output/stats_text.hpp"

#include <fmt/format.h>

namespace flowguard::capture::output {

std::string format_stats(const DecodeCounters& decode, const EngineStats& engine, const SourceStats& source) {
  std::string line = "stats";
  auto out = std::back_inserter(line);
  decode.for_each_nonzero([&](std::string_view name, std::uint64_t value) {
    fmt::format_to(out, " {}={}", name, value);
  });
  fmt::format_to(out,
                 " flows_active={} flows_created={} flows_ended={} flows_expired={} flows_evicted={}"
                 " expired_reclaimed={} late_packets={} records_final={} records_snapshot={}"
                 " records_suppressed={} table_used={}/{} bytes_per_flow={}",
                 engine.flows_active, engine.flows_created, engine.flows_ended, engine.flows_expired,
                 engine.flows_evicted, engine.expired_reclaimed, engine.late_packets, engine.final_records,
                 engine.snapshot_records, engine.suppressed_records, engine.table_used, engine.table_capacity,
                 engine.bytes_per_flow);
  if (source.kernel_stats_valid) {
    fmt::format_to(out, " kernel_received={} kernel_dropped={} interface_dropped={}", source.kernel_received,
                   source.kernel_dropped, source.interface_dropped);
  }
  return line;
}

}  // namespace flowguard::capture::output
