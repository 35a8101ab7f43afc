// The packet path allocates nothing after warm-up (docs/features.md): the bundled demo capture runs
// through decode -> flow engine (with the host-context table and snapshots on, as the agent runs by
// default) -> CSV writer (group columns and snapshot rows) and -> server link (on_flow into its ring,
// group values included) while this
// binary's replaced global operator new counts every heap allocation made on the capture thread.
// The link talks to a minimal in-test server (handshake only) so records really enter the ring; its
// sender thread allocates protobuf messages by design and is not counted (per-thread switch).

#include "context/host_context.hpp"
#include "decode/decoder.hpp"
#include "features/profile.hpp"
#include "flow/flow_engine.hpp"
#include "link/server_link.hpp"
#include "output/csv_writer.hpp"
#include "source/packet_source.hpp"

#include "flowguard/v1/flowguard.pb.h"
#include "framing.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace {

// Counting is switched on per thread so the link's own threads and Catch2 do not disturb the count.
thread_local bool t_counting = false;
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_bytes{0};

void* counted_alloc(std::size_t n) {
  if (t_counting) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(n, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

void* counted_aligned_alloc(std::size_t n, std::size_t align) {
  if (t_counting) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(n, std::memory_order_relaxed);
  }
  void* p = nullptr;
  if (posix_memalign(&p, std::max(align, sizeof(void*)), n == 0 ? 1 : n) == 0) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_aligned_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_aligned_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace flowguard::capture;
namespace v1 = flowguard::v1;

// Accepts one agent, answers its Hello, then reads and discards FlowBatches until the agent leaves.
// No verdicts: the records stay in flight, which is all this test needs (the ring path).
class HandshakeOnlyServer {
 public:
  explicit HandshakeOnlyServer(const std::string& path) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(listen_fd_, 1) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~HandshakeOnlyServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (conn_fd_ >= 0) ::shutdown(conn_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
    if (conn_fd_ >= 0) ::close(conn_fd_);
  }
  std::uint64_t batches() const { return batches_.load(); }

 private:
  void serve() {
    conn_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (conn_fd_ < 0) return;
    flowguard::wire::FrameDecoder decoder;
    char buf[65536];
    bool answered = false;
    for (;;) {
      const ssize_t n = ::read(conn_fd_, buf, sizeof(buf));
      if (n <= 0) return;
      decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      std::string_view payload;
      while (decoder.next(payload)) {
        v1::AgentMessage msg;
        if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
        if (msg.has_hello() && !answered) {
          v1::ServerMessage ack;
          auto* a = ack.mutable_hello_ack();
          a->set_accepted(true);
          a->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
          a->set_max_batch_flows(256);
          a->mutable_model()->set_name("handshake-only");
          a->mutable_model()->set_version("1");
          a->mutable_model()->set_feature_profile(msg.hello().feature_profile());
          const std::string frame = flowguard::wire::encode_frame(ack);
          if (::write(conn_fd_, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) return;
          answered = true;
        } else if (msg.has_flows()) {
          batches_.fetch_add(1);
        }
      }
      if (decoder.failed()) return;
    }
  }

  int listen_fd_ = -1;
  int conn_fd_ = -1;
  std::atomic<std::uint64_t> batches_{0};
  std::thread thread_;
};

std::filesystem::path demo_pcap() { return std::filesystem::path(FG_SOURCE_DIR) / "deploy/demo/demo.pcap"; }

}  // namespace

TEST_CASE("decode -> flow engine -> CSV writer and server link allocates nothing after warm-up",
          "[capture][alloc]") {
  // The replacement is in effect: a direct call (never elided, unlike a new-expression) is counted.
  t_counting = true;
  ::operator delete(::operator new(16));
  t_counting = false;
  REQUIRE(g_allocations.exchange(0) == 1);
  g_bytes = 0;

  const auto dir = std::filesystem::temp_directory_path() / ("fg-zero-alloc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const features::Profile profile = features::Profile::corrected;

  HandshakeOnlyServer server((dir / "infer.sock").string());
  LinkOptions lo;
  lo.socket_path = (dir / "infer.sock").string();
  lo.queue_flows = 1 << 16;  // larger than the capture's flow count: every record fits in the ring
  lo.max_in_flight = 1 << 16;
  lo.agent_id = "zero-alloc-test";
  LinkSchema schema{std::string(features::profile_name(profile)), {}, {}};
  for (const auto n : features::feature_names(profile)) schema.feature_names.emplace_back(n);
  LinkGroup& group = schema.groups.emplace_back();
  group.name = std::string(context::group_name);
  for (const auto n : context::feature_names()) group.feature_names.emplace_back(n);
  ServerLink link(lo, std::move(schema), nullptr);
  link.start();
  REQUIRE(link.wait_connected(std::chrono::seconds(10)));

  output::CsvOptions csv_options;
  csv_options.snapshots = true;
  for (const auto n : context::feature_names()) csv_options.group_columns.push_back(n);
  output::CsvWriter csv((dir / "flows.csv").string(), profile, csv_options);
  EngineConfig config;
  config.profile = profile;
  config.max_flows = 1 << 14;
  config.snapshot_packets = 1000;
  config.snapshot_interval_us = 5'000'000;
  context::HostContextTable host_context({});
  auto engine = FlowEngine::create(config, {&csv, &link}, &host_context);

  FileOptions fo;
  fo.path = demo_pcap().string();
  auto source = PacketSource::open_file(fo);
  const int link_type = source->link_type();
  DecodeCounters counters;
  DecodedPacket decoded;
  RawPacket raw;

  // Warm-up: the first quarter of the capture (first CSV flush, stdio buffer, table pages).
  std::uint64_t packets = 0;
  const std::uint64_t warm_up = 5000;
  std::uint64_t counted_packets = 0;
  std::uint64_t rows_before = 0;
  LinkCounters link_before;
  for (;;) {
    if (packets == warm_up) {
      rows_before = csv.rows();
      link_before = link.counters();
      t_counting = true;
    }
    const ReadStatus status = source->next(raw);
    if (status != ReadStatus::packet) break;
    ++packets;
    if (t_counting) ++counted_packets;
    if (decode_packet(link_type, raw.data, raw.ts_us, raw.wirelen, decoded, counters) ==
        DecodeStatus::decoded)
      engine->on_packet(decoded);
  }
  engine->finish();  // end of input: every open flow through both sinks, still counted
  t_counting = false;
  const std::uint64_t allocations = g_allocations.load();
  const std::uint64_t bytes = g_bytes.load();
  const std::uint64_t rows = csv.rows() - rows_before;
  const LinkCounters after = link.counters();

  link.stop();
  csv.close();
  std::filesystem::remove_all(dir);

  INFO("packets counted " << counted_packets << ", CSV rows " << rows << ", link records offered "
                          << after.offered - link_before.offered << "; allocations " << allocations << " ("
                          << bytes << " bytes)");
  // The measured window really exercised the path: packets, CSV rows and records entering the ring.
  REQUIRE(counted_packets > 10000);
  REQUIRE(rows > 1000);
  const std::uint64_t offered = after.offered - link_before.offered;
  const std::uint64_t skipped = (after.out_of_scope - link_before.out_of_scope) +
                                (after.unjudged_server_away - link_before.unjudged_server_away);
  REQUIRE(offered > 1000);
  CHECK(after.unjudged_queue_full == link_before.unjudged_queue_full);
  CHECK(after.unjudged_server_away == link_before.unjudged_server_away);
  CHECK(offered - skipped > 1000);
  CHECK(after.unjudged_bad_record == link_before.unjudged_bad_record);  // group values fit the schema
  CHECK(allocations == 0);
}
