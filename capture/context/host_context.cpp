#include "context/host_context.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

namespace flowguard::capture::context {
namespace {

constexpr std::int64_t window_us[3] = {1'000'000, 10'000'000, 60'000'000};
constexpr std::int64_t service_window_us = 10'000'000;
constexpr std::int64_t short_flow_packets = 3;  // a flow of <= 3 packets is "short"

constexpr std::string_view names[feature_count] = {
    "hc_src_flows_1s",          "hc_src_flows_10s",          "hc_src_flows_60s",
    "hc_src_dst_ports_1s",      "hc_src_dst_ports_10s",      "hc_src_dst_ports_60s",
    "hc_src_dst_hosts_1s",      "hc_src_dst_hosts_10s",      "hc_src_dst_hosts_60s",
    "hc_src_failed_1s",         "hc_src_failed_10s",         "hc_src_failed_60s",
    "hc_src_short_share_1s",    "hc_src_short_share_10s",    "hc_src_short_share_60s",
    "hc_src_same_size_share_1s", "hc_src_same_size_share_10s", "hc_src_same_size_share_60s",
    "hc_src_packets_1s",        "hc_src_packets_10s",        "hc_src_packets_60s",
    "hc_src_bytes_1s",          "hc_src_bytes_10s",          "hc_src_bytes_60s",
    "hc_src_open_flows",        "hc_svc_flows_10s",          "hc_svc_sources_10s",
};

std::uint64_t start_up_seed(std::uint64_t configured) {
  if (configured != 0) return configured;
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) | 1;
}

__extension__ using u128 = unsigned __int128;
std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
  const u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

// Both keys are 20 raw bytes without padding bits: hashed and compared as bytes.
struct SourceKey {
  std::uint8_t family;
  std::array<std::uint8_t, 3> zero;
  std::array<std::uint8_t, 16> addr;
  static SourceKey of(const IpAddress& ip) {
    SourceKey k{};
    k.family = ip.family;
    k.addr = ip.bytes;
    return k;
  }
  friend bool operator==(const SourceKey&, const SourceKey&) = default;
};
struct ServiceKey {
  std::uint8_t family, protocol;
  std::uint16_t port;
  std::array<std::uint8_t, 16> addr;
  static ServiceKey of(const IpAddress& ip, std::uint8_t protocol, std::uint16_t port) {
    ServiceKey k{};
    k.family = ip.family;
    k.protocol = protocol;
    k.port = port;
    k.addr = ip.bytes;
    return k;
  }
  friend bool operator==(const ServiceKey&, const ServiceKey&) = default;
};
static_assert(sizeof(SourceKey) == 20 && std::has_unique_object_representations_v<SourceKey>);
static_assert(sizeof(ServiceKey) == 20 && std::has_unique_object_representations_v<ServiceKey>);

class KeyHasher {
 public:
  explicit KeyHasher(std::uint64_t seed) {
    for (auto& k : secret_) k = splitmix(seed);
  }
  template <typename Key>
  std::uint64_t operator()(const Key& key) const {
    static_assert(sizeof(Key) == 20);
    std::uint64_t w[2];
    std::uint32_t last;
    std::memcpy(w, &key, sizeof(w));
    std::memcpy(&last, reinterpret_cast<const char*>(&key) + 16, sizeof(last));
    const std::uint64_t h = fold(w[0] ^ secret_[0], w[1] ^ secret_[1]);
    return fold(h ^ last ^ secret_[2], secret_[3]);
  }
  std::uint64_t port(std::uint16_t p) const { return fold(p ^ secret_[4], secret_[5]); }

 private:
  std::uint64_t secret_[6];
};

// Fixed-capacity chained hash table over calloc'ed (lazily zeroed) memory: all-zero is the empty
// state of every slot and bucket, so construction touches no page. Slot numbers are 1-based (0 = none).
template <typename Key, typename Value>
class BoundedTable {
 public:
  struct Slot {
    Key key;
    std::uint32_t next;  // 1-based, 0 = end of chain
    std::uint32_t gen;   // bumped on every reuse: stale flow handles notice
    std::uint32_t hash32;
    std::uint32_t used;
    std::int64_t last_seen;
    Value v;
  };
  static_assert(std::is_trivially_copyable_v<Slot>);

  BoundedTable(std::uint32_t capacity, std::uint32_t sample)
      : capacity_(std::max<std::uint32_t>(capacity, 1)),
        buckets_(std::bit_ceil(static_cast<std::size_t>(capacity_))),
        sample_(std::max<std::uint32_t>(sample, 1)) {
    slots_ = static_cast<Slot*>(std::calloc(capacity_, sizeof(Slot)));
    heads_ = static_cast<std::uint32_t*>(std::calloc(buckets_, sizeof(std::uint32_t)));
    if (slots_ == nullptr || heads_ == nullptr) {
      std::free(slots_);
      std::free(heads_);
      throw std::bad_alloc();
    }
  }
  ~BoundedTable() {
    std::free(slots_);
    std::free(heads_);
  }
  BoundedTable(const BoundedTable&) = delete;
  BoundedTable& operator=(const BoundedTable&) = delete;

  Slot& at(std::uint32_t s1) { return slots_[s1 - 1]; }
  const Slot& at(std::uint32_t s1) const { return slots_[s1 - 1]; }

  std::uint32_t find(const Key& key, std::uint64_t hash) const {
    const auto h32 = static_cast<std::uint32_t>(hash);
    for (std::uint32_t s = heads_[h32 & (buckets_ - 1)]; s != 0; s = slots_[s - 1].next) {
      const Slot& e = slots_[s - 1];
      if (e.hash32 == h32 && e.key == key) return s;
    }
    return 0;
  }

  // The entry for `key`, created (zeroed) if absent; when the table is full the least recently seen
  // entry of a small sample makes room (counted).
  std::uint32_t find_or_insert(const Key& key, std::uint64_t hash, std::int64_t now) {
    if (const std::uint32_t s = find(key, hash)) return s;
    std::uint32_t s;
    if (used_ < capacity_) {
      s = ++used_;
    } else {
      s = victim();
      unlink(s);
      ++evicted_;
    }
    Slot& e = slots_[s - 1];
    const std::uint32_t gen = e.gen + 1;
    std::memset(static_cast<void*>(&e), 0, sizeof(Slot));
    e.key = key;
    e.gen = gen;
    e.used = 1;
    e.hash32 = static_cast<std::uint32_t>(hash);
    e.last_seen = now;
    const std::uint32_t b = e.hash32 & (buckets_ - 1);
    e.next = heads_[b];
    heads_[b] = s;
    return s;
  }

  std::uint64_t used() const { return used_; }
  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t evicted() const { return evicted_; }
  std::size_t bytes_per_entry() const { return sizeof(Slot) + (buckets_ * sizeof(std::uint32_t)) / capacity_; }
  std::size_t bytes_total() const { return capacity_ * sizeof(Slot) + buckets_ * sizeof(std::uint32_t); }

 private:
  std::uint32_t victim() {
    std::uint32_t best = cursor_ % capacity_;
    for (std::uint32_t k = 1; k < sample_; ++k) {
      const std::uint32_t i = (cursor_ + k) % capacity_;
      if (slots_[i].last_seen < slots_[best].last_seen) best = i;
    }
    cursor_ = (cursor_ + sample_) % capacity_;
    return best + 1;
  }
  void unlink(std::uint32_t s) {
    std::uint32_t* link = &heads_[slots_[s - 1].hash32 & (buckets_ - 1)];
    while (*link != 0 && *link != s) link = &slots_[*link - 1].next;
    if (*link == s) *link = slots_[s - 1].next;
  }

  std::uint32_t capacity_;
  std::size_t buckets_;
  std::uint32_t sample_;
  Slot* slots_ = nullptr;
  std::uint32_t* heads_ = nullptr;
  std::uint32_t used_ = 0;
  std::uint32_t cursor_ = 0;
  std::uint64_t evicted_ = 0;
};

struct PacketBucket {
  std::uint32_t packets;
  float bytes;  // float: a 60 s bucket of a 10 Gbit/s source still fits, to ~7 digits
};
struct FlowBucket {
  std::uint32_t flows, failed, ended, short_flows, same_size;
  Bitmap<2> ports;  // 128 bits: saturates near 620 distinct ports
  Bitmap<1> hosts;  // 64 bits: saturates near 266 distinct hosts
};
struct ServiceBucket {
  std::uint32_t flows;
  Bitmap<1> sources;
};
// Flow sizes seen most often (space-saving top-k): "same size" = the most common size, seen twice or more.
struct SizeCount {
  std::uint32_t size, count;
};

// Saturating add for the 32-bit counters (a 60 s bucket of a flood must not wrap to a small number).
void bump(std::uint32_t& c, std::uint32_t n = 1) { c = c > UINT32_MAX - n ? UINT32_MAX : c + n; }

}  // namespace

struct HostContextTable::SourceEntry {
  Sliding<PacketBucket> pkt[3];  // packet path: one cache line for all three windows
  Sliding<FlowBucket> flow[3];
  SizeCount sizes[4];
  std::uint32_t open_flows;
};
struct HostContextTable::ServiceEntry {
  Sliding<ServiceBucket> w10;
};

struct HostContextTable::Tables {
  Tables(const HostContextConfig& c)
      : hasher(start_up_seed(c.hash_seed)),
        sources(c.max_sources, c.eviction_sample),
        services(c.max_services, c.eviction_sample) {}
  KeyHasher hasher;
  BoundedTable<SourceKey, SourceEntry> sources;
  BoundedTable<ServiceKey, ServiceEntry> services;
  std::uint64_t stale = 0;

  using SourceSlot = BoundedTable<SourceKey, SourceEntry>::Slot;

  // The initiator's entry for a flow, re-created if it was evicted since the flow last touched it.
  SourceSlot& source(FlowContext& fc, const IpAddress& initiator, std::int64_t ts) {
    if (fc.src_slot != 0) {
      SourceSlot& e = sources.at(fc.src_slot);
      if (e.gen == fc.src_gen) {
        e.last_seen = std::max(e.last_seen, ts);
        return e;
      }
      ++stale;
    }
    const SourceKey k = SourceKey::of(initiator);
    fc.src_slot = sources.find_or_insert(k, hasher(k), ts);
    SourceSlot& e = sources.at(fc.src_slot);
    fc.src_gen = e.gen;
    e.last_seen = std::max(e.last_seen, ts);
    return e;
  }
};

std::span<const std::string_view> feature_names() { return names; }

HostContextTable::HostContextTable(const HostContextConfig& config) : t_(std::make_unique<Tables>(config)) {}
HostContextTable::~HostContextTable() = default;

void HostContextTable::flow_started(FlowContext& fc, const FlowStart& s) {
  fc = FlowContext{};
  fc.started = true;
  fc.expects_answer = s.expects_answer;
  fc.answered = s.answered;
  auto& src = t_->source(fc, s.initiator, s.ts).v;
  bump(src.open_flows);
  if (s.new_conversation) {
    const SourceKey responder = SourceKey::of(s.responder);
    const std::uint64_t host_hash = t_->hasher(responder);
    const std::uint64_t port_hash = t_->hasher.port(s.responder_port);
    for (int w = 0; w < 3; ++w) {
      FlowBucket& b = src.flow[w].at(s.ts, window_us[w]);
      bump(b.flows);
      if (s.responder_port != 0) b.ports.set(port_hash);
      b.hosts.set(host_hash);
    }
  }
  const ServiceKey sk = ServiceKey::of(s.responder, s.protocol, s.responder_port);
  fc.svc_slot = t_->services.find_or_insert(sk, t_->hasher(sk), s.ts);
  auto& svc = t_->services.at(fc.svc_slot);
  fc.svc_gen = svc.gen;
  svc.last_seen = std::max(svc.last_seen, s.ts);
  if (s.new_conversation) {
    ServiceBucket& b = svc.v.w10.at(s.ts, service_window_us);
    bump(b.flows);
    b.sources.set(t_->hasher(SourceKey::of(s.initiator)));
  }
}

void HostContextTable::packet(FlowContext& fc, const IpAddress& initiator, bool from_initiator,
                              std::uint8_t tcp_flags, std::int64_t bytes, std::int64_t ts) {
  if (!fc.started) return;
  constexpr std::uint8_t syn = 0x02, rst = 0x04, ack = 0x10;
  if (from_initiator) {
    auto& src = t_->source(fc, initiator, ts).v;
    for (int w = 0; w < 3; ++w) {
      PacketBucket& b = src.pkt[w].at(ts, window_us[w]);
      bump(b.packets);
      b.bytes += static_cast<float>(bytes);
    }
    return;
  }
  if ((tcp_flags & (syn | ack)) == (syn | ack)) fc.answered = true;
  // A reset before any SYN-ACK answers the initiator's SYN: the connection was rejected.
  if ((tcp_flags & rst) != 0 && fc.expects_answer && !fc.answered && !fc.failed) {
    fc.failed = true;
    auto& src = t_->source(fc, initiator, ts).v;
    for (int w = 0; w < 3; ++w) bump(src.flow[w].at(ts, window_us[w]).failed);
  }
}

void HostContextTable::flow_ended(FlowContext& fc, const IpAddress& initiator, std::int64_t packets,
                                  std::int64_t bytes, std::int64_t ts) {
  if (!fc.started) return;
  fc.started = false;
  auto& src = t_->source(fc, initiator, ts).v;
  if (src.open_flows > 0) --src.open_flows;
  // Half-open: the SYN was never answered.
  const bool failed = fc.expects_answer && !fc.answered && !fc.failed;
  fc.failed = fc.failed || failed;

  const auto size = static_cast<std::uint32_t>(std::clamp<std::int64_t>(bytes, 0, UINT32_MAX));
  SizeCount* hit = nullptr;
  for (SizeCount& s : src.sizes)
    if (s.count != 0 && s.size == size) hit = &s;
  if (hit == nullptr) {  // space-saving: take over the least counted slot
    hit = &src.sizes[0];
    for (SizeCount& s : src.sizes)
      if (s.count < hit->count) hit = &s;
    hit->size = size;
  }
  bump(hit->count);
  std::uint32_t top = 0;
  for (const SizeCount& s : src.sizes) top = std::max(top, s.count);
  const bool same = hit->count >= 2 && hit->count >= top;

  for (int w = 0; w < 3; ++w) {
    FlowBucket& b = src.flow[w].at(ts, window_us[w]);
    bump(b.ended);
    if (packets <= short_flow_packets) bump(b.short_flows);
    if (same) bump(b.same_size);
    if (failed) bump(b.failed);
  }
}

void HostContextTable::values(const FlowContext& fc, const IpAddress& initiator, const IpAddress& responder,
                              std::uint16_t responder_port, std::uint8_t protocol, std::int64_t now,
                              std::span<float, feature_count> out) {
  std::fill(out.begin(), out.end(), 0.0f);
  const Tables::SourceSlot* e = nullptr;
  if (fc.src_slot != 0 && t_->sources.at(fc.src_slot).gen == fc.src_gen) {
    e = &t_->sources.at(fc.src_slot);
  } else {
    const SourceKey k = SourceKey::of(initiator);
    if (const std::uint32_t s = t_->sources.find(k, t_->hasher(k))) e = &t_->sources.at(s);
  }
  if (e != nullptr) {
    const SourceEntry& v = e->v;
    for (int w = 0; w < 3; ++w) {
      const auto& f = v.flow[w];
      const std::int64_t W = window_us[w];
      const double ended = windowed(f, &FlowBucket::ended, now, W);
      out[0 + w] = static_cast<float>(windowed(f, &FlowBucket::flows, now, W));
      out[3 + w] = static_cast<float>(windowed_distinct(f, &FlowBucket::ports, now, W));
      out[6 + w] = static_cast<float>(windowed_distinct(f, &FlowBucket::hosts, now, W));
      out[9 + w] = static_cast<float>(windowed(f, &FlowBucket::failed, now, W));
      if (ended > 0) {
        out[12 + w] =
            static_cast<float>(std::min(1.0, windowed(f, &FlowBucket::short_flows, now, W) / ended));
        out[15 + w] = static_cast<float>(std::min(1.0, windowed(f, &FlowBucket::same_size, now, W) / ended));
      }
      out[18 + w] = static_cast<float>(windowed(v.pkt[w], &PacketBucket::packets, now, W));
      out[21 + w] = static_cast<float>(windowed(v.pkt[w], &PacketBucket::bytes, now, W));
    }
    out[24] = static_cast<float>(v.open_flows);
  }
  const ServiceEntry* svc = nullptr;
  if (fc.svc_slot != 0 && t_->services.at(fc.svc_slot).gen == fc.svc_gen) {
    svc = &t_->services.at(fc.svc_slot).v;
  } else {
    const ServiceKey k = ServiceKey::of(responder, protocol, responder_port);
    if (const std::uint32_t s = t_->services.find(k, t_->hasher(k))) svc = &t_->services.at(s).v;
  }
  if (svc != nullptr) {
    out[25] = static_cast<float>(windowed(svc->w10, &ServiceBucket::flows, now, service_window_us));
    out[26] = static_cast<float>(windowed_distinct(svc->w10, &ServiceBucket::sources, now, service_window_us));
  }
}

HostContextStats HostContextTable::stats() const {
  HostContextStats s;
  s.sources_used = t_->sources.used();
  s.sources_capacity = t_->sources.capacity();
  s.sources_evicted = t_->sources.evicted();
  s.services_used = t_->services.used();
  s.services_capacity = t_->services.capacity();
  s.services_evicted = t_->services.evicted();
  s.stale_handles = t_->stale;
  s.bytes_per_source = t_->sources.bytes_per_entry();
  s.bytes_per_service = t_->services.bytes_per_entry();
  s.bytes_total = t_->sources.bytes_total() + t_->services.bytes_total();
  return s;
}

void register_host_context_metrics(AgentMetrics& metrics, std::function<HostContextStats()> stats) {
  struct Gauge {
    const char* name;
    const char* key;
    const char* help;
    std::int64_t (*read)(const HostContextStats&);
  };
  static constexpr Gauge gauges[] = {
      {"flowguard_capture_host_context_sources", "hc_sources", "Sources in the host-context table",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.sources_used); }},
      {"flowguard_capture_host_context_sources_capacity", "hc_sources_capacity",
       "Source entries preallocated (--host-context-max-sources)",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.sources_capacity); }},
      {"flowguard_capture_host_context_services", "hc_services", "Destination services in the host-context table",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.services_used); }},
      {"flowguard_capture_host_context_services_capacity", "hc_services_capacity",
       "Service entries preallocated",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.services_capacity); }},
      {"flowguard_capture_host_context_bytes_per_source", "hc_bytes_per_source",
       "Bytes per source entry with its index share",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.bytes_per_source); }},
      {"flowguard_capture_host_context_bytes_per_service", "hc_bytes_per_service",
       "Bytes per service entry with its index share",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.bytes_per_service); }},
      {"flowguard_capture_host_context_bytes", "hc_bytes", "Bytes reserved by both host-context tables",
       [](const HostContextStats& s) { return static_cast<std::int64_t>(s.bytes_total); }},
  };
  for (const Gauge& g : gauges) {
    metrics::Desc d{g.name, g.help, g.key};
    d.in_line = false;
    metrics.mirror_gauge(std::move(d), [stats, read = g.read] { return read(stats()); });
  }
  metrics.mirror_counter({"flowguard_capture_host_context_sources_evicted_total",
                          "Sources evicted because the host-context table was full", "hc_sources_evicted"},
                         [stats] { return stats().sources_evicted; });
  metrics.mirror_counter({"flowguard_capture_host_context_services_evicted_total",
                          "Services evicted because the host-context table was full", "hc_services_evicted"},
                         [stats] { return stats().services_evicted; });
  metrics::Desc stale{"flowguard_capture_host_context_stale_handles_total",
                      "Flows whose host-context entry had been evicted and was looked up again",
                      "hc_stale_handles"};
  stale.in_line = false;
  metrics.mirror_counter(std::move(stale), [stats] { return stats().stale_handles; });
}

}  // namespace flowguard::capture::context
