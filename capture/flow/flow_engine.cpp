#include "flow/flow_engine.hpp"

#include "features/cicids2017.hpp"
#include "features/corrected.hpp"
#include "features/feature_row.hpp"
#include "flow/flow_table.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <new>
#include <random>

namespace flowguard::capture {
namespace {

using features::Step;

constexpr std::uint32_t idle_sweep_budget = 4096;
#ifndef FLOWGUARD_RECORD_PREFETCH_DISTANCE
#define FLOWGUARD_RECORD_PREFETCH_DISTANCE 6
#endif
constexpr std::size_t record_prefetch_distance = FLOWGUARD_RECORD_PREFETCH_DISTANCE;
constexpr std::size_t sweep_prefetch_ahead = 16;  // activity entries: two cache lines ahead
// A flow's host-context values are refreshed at most this often (packet time) while it is active.
constexpr std::int64_t group_refresh_us = 100'000;

std::uint64_t start_up_seed(std::uint64_t configured) {
  if (configured != 0) return configured;
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

template <typename Profile>
class Engine final : public FlowEngine {
 public:
  Engine(const EngineConfig& config, std::vector<FlowSink*> sinks, context::HostContextTable* host_context)
      : config_(config),
        profile_(config.timeouts),
        table_(config.max_flows, start_up_seed(config.hash_seed)),
        sinks_(std::move(sinks)),
        ctx_(host_context) {
    if (ctx_ != nullptr) {
      // One cache entry per flow slot; calloc'ed so pages are touched only when slots are.
      group_cache_.reset(static_cast<GroupCache*>(std::calloc(table_.capacity(), sizeof(GroupCache))));
      if (!group_cache_) throw std::bad_alloc();
    }
  }

  void on_packet(const DecodedPacket& d) override { on_packets({&d, 1}); }

  void on_packets(std::span<const DecodedPacket> batch) override {
    while (!batch.empty()) {
      const std::size_t n = std::min(batch.size(), max_batch);
      // Map in file order (to_packet is stateful in cicids2017), then key, then hash and prefetch the
      // index... Separate passes: each step reads what the previous one just stored with loads of other
      // widths, which stalls (no store forwarding) unless the stores have left the store buffer.
      for (std::size_t i = 0; i < n; ++i) {
        ++packets_;
        pending_[i].usable = profile_.to_packet(batch[i], pending_[i].packet);
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (pending_[i].usable) pending_[i].key = profile_.key(pending_[i].packet);
      }
      for (std::size_t i = 0; i < n; ++i) {
        Pending& q = pending_[i];
        if (!q.usable) continue;
        q.hash = table_.hash(q.key);
        table_.prefetch_bucket(q.hash);
      }
      // ...then work packet by packet, prefetching the record of the packet a few places ahead (its
      // index bucket is in cache by then).
      for (std::size_t i = 0; i < n && i < record_prefetch_distance; ++i) {
        if (pending_[i].usable) table_.prefetch_record(pending_[i].hash);
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t ahead = i + record_prefetch_distance;
        if (ahead < n && pending_[ahead].usable) table_.prefetch_record(pending_[ahead].hash);
        if (pending_[i].usable) process(pending_[i]);
      }
      for (FlowSink* sink : sinks_) sink->on_time(now_);
      batch = batch.subspan(n);
    }
  }

  void on_idle(std::int64_t now_us) override {
    if (now_us <= now_) return;
    now_ = now_us;
    sweep(idle_sweep_budget);
    for (FlowSink* sink : sinks_) sink->on_time(now_);
  }

  void finish() override {
    for (const std::uint32_t slot : table_.occupied()) {
      FlowRecord& rec = table_.at(slot);
      if (!rec.expired) emit_final(rec);
    }
    table_.clear();
    active_ = 0;
    for (FlowSink* sink : sinks_) sink->on_time(now_);
  }

  EngineStats stats() const override {
    EngineStats s;
    s.packets = packets_;
    s.flows_created = created_;
    s.flows_ended = flows_ended_;
    s.flows_expired = expired_;
    s.flows_evicted = evicted_;
    s.expired_reclaimed = reclaimed_;
    s.late_packets = late_packets_;
    s.final_records = final_records_;
    s.snapshot_records = snapshot_records_;
    s.suppressed_records = suppressed_;
    s.flows_active = active_;
    s.table_used = table_.size();
    s.table_capacity = table_.capacity();
    // With host context, each flow slot also has its cached group values.
    s.bytes_per_flow = table_.bytes_per_flow() + (ctx_ != nullptr ? sizeof(GroupCache) : 0);
    return s;
  }

  features::Profile profile() const override { return Profile::id; }

 private:
  struct Pending {
    features::ProfilePacket packet;
    FlowKey key;
    std::uint64_t hash = 0;
    bool usable = false;
  };

  std::uint32_t lookup(const Pending& q) const {
    if constexpr (Profile::looks_up_reverse) {
      return table_.find_either(q.key, q.key.reversed(), q.hash);
    } else {
      return table_.find(q.key, q.hash);
    }
  }

  void process(const Pending& q) {
    const features::ProfilePacket& p = q.packet;
    now_ = p.ts;
    const std::uint32_t slot = lookup(q);
    if (slot == FlowTable::npos) {
      create(q);
    } else {
      FlowRecord& rec = table_.at(slot);
      const bool was_expired = rec.expired;
      if (was_expired && p.ts - rec.state.start <= config_.timeouts.flow_us) ++late_packets_;
      const Step step = profile_.on_packet(rec.state, p, was_expired);
      switch (step) {
        case Step::absorbed:
          table_.set_activity(slot, p.ts);
          context_packet(rec, p);
          maybe_snapshot(rec);
          break;
        case Step::close:
          ++flows_ended_;
          context_packet(rec, p);
          emit_final(rec);
          --active_;
          table_.erase(slot);
          break;
        case Step::split_inherit:
        case Step::split_own:
          if (was_expired) {
            rec.expired = false;
            ++active_;
          } else {
            ++flows_ended_;
            emit_final(rec);
          }
          profile_.restart(rec.state, p, step);
          // A split with the packet's own orientation starts a new conversation: decide its initiator
          // again. One that inherits the orientation continues the old one, initiator included.
          if (step == Step::split_own) rec.initiator = decide_initiator(first_packet_of(p));
          start_record(rec, step == Step::split_own);
          table_.set_activity(slot, p.ts);
          context_packet(rec, p);
          break;
      }
    }
    sweep(config_.sweep_per_packet);
  }

  // A new conversation, stored under the key lookup() computed for its first packet.
  std::uint32_t create(const Pending& q) {
    if (table_.full()) make_room();
    const std::uint32_t slot = table_.insert(q.key, q.hash);
    FlowRecord& rec = table_.at(slot);
    profile_.begin(rec.state, q.packet, features::orientation_of(q.packet));
    rec.initiator = decide_initiator(first_packet_of(q.packet));
    ++active_;
    start_record(rec, true);
    table_.set_activity(slot, q.packet.ts);
    context_packet(rec, q.packet);
    return slot;
  }

  void start_record(FlowRecord& rec, bool new_conversation) {
    rec.flow_id = next_flow_id_++;
    rec.last_snapshot_ts = rec.state.start;
    ++created_;
    if (ctx_ == nullptr) return;
    group_cache_[slot_of(rec)].valid = false;
    const features::Orientation& d = rec.state.dir;
    const bool src_opened = rec.initiator.side != FlowSide::dst;
    const bool handshake = rec.initiator.basis == InitiatorBasis::handshake && rec.state.protocol == 6;
    context::FlowStart s;
    s.initiator = src_opened ? d.src : d.dst;
    s.responder = src_opened ? d.dst : d.src;
    s.responder_port = src_opened ? d.dst_port : d.src_port;
    s.protocol = rec.state.protocol;
    s.ts = rec.state.start;
    s.new_conversation = new_conversation;
    s.expects_answer = new_conversation && handshake && src_opened;
    s.answered = new_conversation && handshake && !src_opened;
    ctx_->flow_started(rec.context, s);
  }

  static FirstPacket first_packet_of(const features::ProfilePacket& p) {
    return FirstPacket{p.protocol, p.tcp_flags, p.src_port, p.dst_port, p.icmp_type};
  }

  // The initiator's address and port in the flow's orientation.
  static const IpAddress& initiator_address(const FlowRecord& rec) {
    return rec.initiator.side == FlowSide::dst ? rec.state.dir.dst : rec.state.dir.src;
  }
  static std::uint16_t initiator_port(const FlowRecord& rec) {
    return rec.initiator.side == FlowSide::dst ? rec.state.dir.dst_port : rec.state.dir.src_port;
  }

  void context_packet(FlowRecord& rec, const features::ProfilePacket& p) {
    if (ctx_ == nullptr) return;
    const IpAddress& init = initiator_address(rec);
    const bool from_initiator = p.src == init && p.src_port == initiator_port(rec);
    ctx_->packet(rec.context, init, from_initiator, p.tcp_flags, p.payload, p.ts);
    // A TCP connection is over for the host context at a reset or once both sides sent FIN, although
    // the profile keeps the record open until its timeout (corrected): short and same-size shares and
    // open-flow counts must not wait for it.
    const features::FlowState& f = rec.state;
    if (f.protocol == 6 && rec.context.started && (p.has(tcp_flag::rst) || (f.fwd_fin > 0 && f.bwd_fin > 0)))
      ctx_->flow_ended(rec.context, init, f.packets(), f.fwd_bytes + f.bwd_bytes, p.ts);
    GroupCache& c = group_cache_[slot_of(rec)];
    if (!c.valid || p.ts - c.ts >= group_refresh_us) refresh_group(rec, c, p.ts);
  }

  // A record's host-context values describe the source as of the flow's last activity: fresh while the
  // flow is active, else the values cached at its last packets (a record emitted long after, by the
  // idle sweep or at end of input, must not read an idle source's empty windows). Computing them is
  // ~30 table reads, so it happens at most every group_refresh_us of a flow's packet time.
  struct GroupCache {
    bool valid;
    std::int64_t ts;
    float v[context::feature_count];
  };
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };

  std::uint32_t slot_of(const FlowRecord& rec) const {
    return static_cast<std::uint32_t>(&rec - &table_.at(0));
  }

  void refresh_group(const FlowRecord& rec, GroupCache& c, std::int64_t now) {
    const features::FlowState& f = rec.state;
    const bool src_opened = rec.initiator.side != FlowSide::dst;
    ctx_->values(rec.context, src_opened ? f.dir.src : f.dir.dst, src_opened ? f.dir.dst : f.dir.src,
                 src_opened ? f.dir.dst_port : f.dir.src_port, f.protocol, now,
                 std::span<float, context::feature_count>(c.v));
    c.ts = now;
    c.valid = true;
  }

  // Table full: reuse an already-emitted expired record if the sample holds one, else evict the
  // least recently seen flow of the sample (emitting its final record). Expired records are parked at
  // the oldest activity, so "least recent" covers both.
  void make_room() {
    const auto occupied = table_.occupied();
    const auto activity = table_.activity();
    const std::size_t n = occupied.size();
    const std::size_t sample = std::min<std::size_t>(n, std::max<std::uint32_t>(1, config_.eviction_sample));
    std::size_t best = cursor_ % n;
    for (std::size_t k = 1; k < sample && activity[best] != FlowTable::parked; ++k) {
      const std::size_t pos = (cursor_ + k) % n;
      if (activity[pos] < activity[best]) best = pos;
    }
    const std::uint32_t victim = occupied[best];
    FlowRecord& rec = table_.at(victim);
    if (rec.expired) {
      ++reclaimed_;
    } else {
      ++evicted_;
      emit_final(rec);
      --active_;
    }
    table_.erase(victim);
  }

  // Bounded expiry work per packet: examine a few flows round-robin, reading their last activity from
  // the table's compact array; a record is touched only when it must be emitted.
  void sweep(std::uint32_t budget) {
    for (std::uint32_t k = 0; k < budget; ++k) {
      const auto occupied = table_.occupied();
      if (occupied.empty()) return;
      if (cursor_ >= occupied.size()) cursor_ = 0;
      const std::size_t pos = cursor_++;
      // The cursor walks the array one entry per packet, too slowly for the hardware prefetcher
      // while the file data streams through the caches.
      if (pos + sweep_prefetch_ahead < occupied.size()) {
        __builtin_prefetch(&table_.activity()[pos + sweep_prefetch_ahead]);
      }
      const std::int64_t last_activity = table_.activity()[pos];
      if (last_activity == FlowTable::parked) continue;
      // Idle longer than the flow timeout implies now - start > timeout: the next packet of this
      // flow would split it, so emitting the record now changes nothing but the time it leaves.
      if (now_ - last_activity > config_.timeouts.flow_us) {
        FlowRecord& rec = table_.at(occupied[pos]);
        ++expired_;
        emit_final(rec);
        rec.expired = true;
        table_.set_activity(occupied[pos], FlowTable::parked);
        --active_;
      } else if (config_.snapshot_interval_us > 0) {
        FlowRecord& rec = table_.at(occupied[pos]);
        // A flow that saw no packet since its last snapshot is not judged again (nothing changed; the
        // corrected profile keeps ended connections open until their timeout), but every flow gets one
        // early verdict, including a lone unanswered packet.
        const bool fresh =
            rec.state.last_seen > rec.last_snapshot_ts || rec.last_snapshot_ts == rec.state.start;
        if (fresh && now_ - rec.last_snapshot_ts >= config_.snapshot_interval_us) emit_snapshot(rec);
      }
    }
  }

  void maybe_snapshot(FlowRecord& rec) {
    const bool by_count = config_.snapshot_packets > 0 &&
                          static_cast<std::uint64_t>(rec.state.packets()) % config_.snapshot_packets == 0;
    const bool by_time =
        config_.snapshot_interval_us > 0 && now_ - rec.last_snapshot_ts >= config_.snapshot_interval_us;
    if (by_count || by_time) emit_snapshot(rec);
  }

  void emit_snapshot(FlowRecord& rec) {
    rec.last_snapshot_ts = now_;
    if (ctx_ != nullptr) ctx_->unanswered(rec.context, initiator_address(rec), now_ - rec.state.start, now_);
    if (!profile_.writable(rec.state)) return;
    ++snapshot_records_;
    deliver(rec, RecordKind::snapshot);
  }

  void emit_final(FlowRecord& rec) {
    if (ctx_ != nullptr) {
      const features::FlowState& f = rec.state;
      ctx_->flow_ended(rec.context, initiator_address(rec), f.packets(), f.fwd_bytes + f.bwd_bytes, now_);
    }
    if (!profile_.writable(rec.state)) {
      ++suppressed_;
      return;
    }
    ++final_records_;
    deliver(rec, RecordKind::final_record);
  }

  void deliver(const FlowRecord& rec, RecordKind kind) {
    const features::FlowState& f = rec.state;
    profile_.features(f, row_);
    FlowReport r;
    // The only place a flow's identity is filled; every consumer copies it whole (FlowIdentity).
    r.flow_id = rec.flow_id;
    r.src = f.dir.src;
    r.dst = f.dir.dst;
    r.src_port = f.dir.src_port;
    r.dst_port = f.dir.dst_port;
    r.protocol = f.protocol;
    r.vlan_id = f.vlan_id;
    r.first_ts_us = f.start;
    r.last_ts_us = f.last_seen;
    r.fwd_packets = static_cast<std::uint64_t>(f.fwd_count);
    r.bwd_packets = static_cast<std::uint64_t>(f.bwd_count);
    r.fwd_bytes = static_cast<std::uint64_t>(f.fwd_bytes);
    r.bwd_bytes = static_cast<std::uint64_t>(f.bwd_bytes);
    r.kind = kind;
    r.initiator = rec.initiator.side;
    r.initiator_basis = rec.initiator.basis;
    if (ctx_ != nullptr) {
      GroupCache& c = group_cache_[slot_of(rec)];
      if (!c.valid || now_ - f.last_seen <= group_refresh_us) refresh_group(rec, c, now_);
      r.group_features = std::span<const float>(c.v, context::feature_count);
    }
    r.features = row_.values();
    r.feature_integral = row_.integral();
    r.key_src = rec.key.address_a();
    r.key_dst = rec.key.address_b();
    r.key_src_port = rec.key.port_a;
    r.key_dst_port = rec.key.port_b;
    for (FlowSink* sink : sinks_) sink->on_flow(r);
  }

  EngineConfig config_;
  Profile profile_;
  FlowTable table_;
  std::vector<FlowSink*> sinks_;
  context::HostContextTable* ctx_ = nullptr;
  std::unique_ptr<GroupCache[], FreeDeleter> group_cache_;
  std::array<Pending, max_batch> pending_{};
  features::FeatureRow row_;
  std::int64_t now_ = 0;
  std::size_t cursor_ = 0;
  std::uint64_t next_flow_id_ = 1;
  std::uint64_t packets_ = 0, created_ = 0, flows_ended_ = 0, expired_ = 0, evicted_ = 0, reclaimed_ = 0;
  std::uint64_t late_packets_ = 0, final_records_ = 0, snapshot_records_ = 0, suppressed_ = 0, active_ = 0;
};

}  // namespace

std::unique_ptr<FlowEngine> FlowEngine::create(const EngineConfig& config, std::vector<FlowSink*> sinks,
                                               context::HostContextTable* host_context) {
  return features::visit_profile(config.profile,
                                 [&]<typename P>(std::type_identity<P>) -> std::unique_ptr<FlowEngine> {
                                   return std::make_unique<Engine<P>>(config, std::move(sinks), host_context);
                                 });
}

void register_engine_metrics(AgentMetrics& metrics, std::function<EngineStats()> stats) {
  struct Field {
    const char* name;
    const char* key;
    const char* help;
    std::uint64_t EngineStats::*member;
  };
  static constexpr Field gauges[] = {
      {"flowguard_capture_flows_active", "flows_active", "Open flows (not yet emitted)",
       &EngineStats::flows_active},
  };
  static constexpr Field counters[] = {
      {"flowguard_capture_flows_created_total", "flows_created", "Flow records started",
       &EngineStats::flows_created},
      {"flowguard_capture_flows_ended_total", "flows_ended", "Flows ended by the profile's lifecycle",
       &EngineStats::flows_ended},
      {"flowguard_capture_flows_expired_total", "flows_expired", "Flows emitted early by the idle sweep",
       &EngineStats::flows_expired},
      {"flowguard_capture_flows_evicted_total", "flows_evicted",
       "Live flows evicted because the table was full", &EngineStats::flows_evicted},
      {"flowguard_capture_expired_reclaimed_total", "expired_reclaimed",
       "Expired records reused for new flows", &EngineStats::expired_reclaimed},
      {"flowguard_capture_late_packets_total", "late_packets",
       "Packets for an expired flow within its timeout", &EngineStats::late_packets},
      {"flowguard_capture_records_final_total", "records_final", "Final flow records handed to the sinks",
       &EngineStats::final_records},
      {"flowguard_capture_records_snapshot_total", "records_snapshot",
       "Mid-flow snapshots handed to the sinks", &EngineStats::snapshot_records},
      {"flowguard_capture_records_suppressed_total", "records_suppressed", "Flows the profile does not write",
       &EngineStats::suppressed_records},
  };
  for (const Field& f : gauges) {
    metrics.mirror_gauge({f.name, f.help, f.key},
                         [stats, m = f.member] { return static_cast<std::int64_t>(stats().*m); });
  }
  for (const Field& f : counters) {
    metrics.mirror_counter({f.name, f.help, f.key}, [stats, m = f.member] { return stats().*m; });
  }
  metrics.mirror_gauge(
      {"flowguard_capture_table_used", "Occupied flow records (active + expired)", "table_used"},
      [stats] { return static_cast<std::int64_t>(stats().table_used); });
  metrics.mirror_gauge(
      {"flowguard_capture_table_capacity", "Flow records preallocated (--max-flows)", "table_capacity"},
      [stats] { return static_cast<std::int64_t>(stats().table_capacity); });
  metrics.mirror_gauge({"flowguard_capture_table_bytes_per_flow",
                        "Bytes per flow record with its index share", "bytes_per_flow"},
                       [stats] { return static_cast<std::int64_t>(stats().bytes_per_flow); });
}

}  // namespace flowguard::capture
