// make-fuzz-seeds OUT_DIR [CAPTURE ...]: writes the seed corpora of every fuzz target under
// OUT_DIR/<target>/. Packet seeds are cut from the given capture files (e.g. ../shared/data/pcaps/edge: never
// committed, so the seeds are made at build/test time); the rest are small synthetic inputs: valid and
// refused Hellos, a FlowBatch, every control request, a complete model manifest and broken variants.
#include "fuzz_input.hpp"

#include "bundle/manifest.hpp"
#include "framing.hpp"

#include "flowguard/v1/control.pb.h"
#include "flowguard/v1/flowguard.pb.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace v1 = flowguard::v1;

namespace {

fs::path out_dir;
int written = 0;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
  const auto dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
  ++written;
}

void put_u16(std::string& s, std::size_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}

// Up to 64 packets each as a decoder seed, and the first 256 as one flow-engine seed per flag set.
void from_capture(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (p == nullptr) {
    std::fprintf(stderr, "make-fuzz-seeds: skipping %s: %s\n", path.c_str(), err);
    return;
  }
  const auto sel = static_cast<char>(fgfuzz::link_selector(pcap_datalink(p)));
  const std::string stem = fs::path(path).filename().string();
  std::string stream;
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  std::int64_t last_us = -1;
  for (int i = 0; i < 256 && pcap_next_ex(p, &h, &d) == 1; ++i) {
    const std::string frame(reinterpret_cast<const char*>(d), std::min<std::size_t>(h->caplen, 65535));
    if (i < 64) seed("packet_decoder", stem + "." + std::to_string(i), std::string{sel, '\0'} + frame);
    const std::int64_t us = std::int64_t{h->ts.tv_sec} * 1'000'000 + h->ts.tv_usec;
    const std::int64_t gap_ms = last_us < 0 ? 0 : std::clamp<std::int64_t>((us - last_us) / 1000, 0, 65535);
    last_us = us;
    put_u16(stream, frame.size());
    put_u16(stream, static_cast<std::size_t>(gap_ms));
    stream += frame;
  }
  pcap_close(p);
  if (stream.empty()) return;
  for (const std::uint8_t flags : {0x60, 0x63, 0x24, 0xc0})
    seed("flow_engine", stem + ".f" + std::to_string(flags),
         std::string{sel, static_cast<char>(flags)} + stream);
}

// Ethernet + IPv4 + TCP with `flags`, 10.0.0.1:40000 -> 10.0.0.2:80.
std::string tcp_frame(std::uint8_t flags, bool reply) {
  std::string f(54, '\0');
  f[12] = 0x08;  // IPv4
  f[14] = 0x45;
  f[17] = 40;  // total length
  f[22] = 64;
  f[23] = 6;
  const char a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
  std::copy(a, a + 4, f.begin() + (reply ? 30 : 26));
  std::copy(b, b + 4, f.begin() + (reply ? 26 : 30));
  const std::uint16_t sp = reply ? 80 : 40000, dp = reply ? 40000 : 80;
  f[34] = static_cast<char>(sp >> 8), f[35] = static_cast<char>(sp & 0xff);
  f[36] = static_cast<char>(dp >> 8), f[37] = static_cast<char>(dp & 0xff);
  f[46] = 0x50;
  f[47] = static_cast<char>(flags);
  return f;
}

void synthetic() {
  // Packet path: one TCP conversation (SYN, SYN-ACK, ACK, FIN, FIN, ACK).
  seed("packet_decoder", "syn", std::string{1, 0} + tcp_frame(0x02, false));
  std::string conv;
  int k = 0;
  for (auto [fl, rep] :
       {std::pair{0x02, false}, {0x12, true}, {0x10, false}, {0x11, false}, {0x11, true}, {0x10, false}}) {
    const auto f = tcp_frame(static_cast<std::uint8_t>(fl), rep);
    put_u16(conv, f.size());
    put_u16(conv, k++ ? 1 : 0);
    conv += f;
  }
  seed("flow_engine", "tcp-conversation", std::string{1, 0x40} + conv);

  // Agent stream: a Hello the fixed manifest accepts, one it refuses, then a FlowBatch.
  auto hello = [](std::vector<std::string> names) {
    v1::AgentMessage m;
    auto* h = m.mutable_hello();
    h->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
    h->set_agent_id("seed");
    h->set_agent_version("0.0.0");
    h->set_feature_profile("corrected");
    for (auto& n : names) h->add_feature_names(n);
    return flowguard::wire::encode_frame(m);
  };
  v1::AgentMessage batch;
  batch.mutable_flows()->set_batch_seq(1);
  for (int i = 0; i < 3; ++i) {
    auto* r = batch.mutable_flows()->add_flows();
    r->set_flow_id(static_cast<std::uint64_t>(i));
    r->set_src_ip(std::string("\x0a\x00\x00\x01", 4));
    r->set_dst_ip(std::string("\x0a\x00\x00\x02", 4));
    for (int j = 0; j < 4; ++j) r->add_features(static_cast<float>(i * j));
  }
  const auto ok = hello({"Flow Duration", "Total Fwd Packet", "Total Bwd packets", "f3"});
  seed("frame_hello", "hello-accepted", std::string{2} + ok + flowguard::wire::encode_frame(batch));
  seed("frame_hello", "hello-refused", std::string{0} + hello({"Flow Duration", "x"}));
  seed("frame_hello", "oversized-length", std::string{0} + std::string("\x7f\xff\xff\xff", 4));

  // Control requests, one frame each, and all of them in one stream.
  std::string all;
  auto ctl = [&](const std::string& name, const v1::ControlRequest& r) {
    const auto f = flowguard::wire::encode_frame(r);
    seed("control_request", name, f);
    seed("infer_control", name, f);  // the same requests against flowguard-infer's control service
    all += f;
  };
  v1::ControlRequest r;
  r.mutable_status();
  ctl("status", r);
  r.mutable_stats();
  ctl("stats", r);
  r.mutable_blocks();
  ctl("blocks", r);
  r.mutable_block()->set_address("192.0.2.7");
  r.mutable_block()->set_ttl_seconds(60);
  r.mutable_block()->set_reason("seed");
  ctl("block-v4", r);
  r.mutable_block()->set_address("2001:db8::7");
  ctl("block-v6", r);
  r.mutable_unblock()->set_address("192.0.2.7");
  ctl("unblock", r);
  r.mutable_reload()->set_path("/nonexistent.pt");
  ctl("reload", r);
  seed("control_request", "all", all);
  r.mutable_models();
  seed("infer_control", "models", flowguard::wire::encode_frame(r));
  seed("infer_control", "all", all);
  seed("infer_control", "half-frame", std::string("\x00\x00\x01\x00\x08", 5));

  // Manifest: complete, and broken in typical ways.
  flowguard::models::Manifest m;
  m.name = "seed";
  m.version = "1";
  m.architecture = "cnn_lstm";
  m.feature_profile = "corrected";
  m.feature_names = {"Flow Duration", "Total Fwd Packet", "Total Bwd packets"};
  m.scaling.kind = "standard";
  m.scaling.center = {0, 1, 2};
  m.scaling.scale = {1, 1, 1};
  m.class_names = {"BENIGN", "DoS", "PortScan"};
  m.benign_class = "BENIGN";
  m.thresholds.block_per_class = {{"DoS", 0.95}};
  m.created_at = "2026-12-04T00:00:00Z";
  const auto json = m.to_json();
  seed("manifest", "complete.json", json);
  seed("manifest", "truncated.json", json.substr(0, json.size() / 2));
  seed("manifest", "empty-object.json", "{}");
  seed("manifest", "wrong-types.json", R"({"format":"flowguard-model/1","name":1,"feature_names":"x"})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make-fuzz-seeds OUT_DIR [CAPTURE ...]\n");
    return 2;
  }
  out_dir = argv[1];
  synthetic();
  for (int i = 2; i < argc; ++i) from_capture(argv[i]);
  std::printf("make-fuzz-seeds: %d seeds in %s\n", written, out_dir.c_str());
  return 0;
}
