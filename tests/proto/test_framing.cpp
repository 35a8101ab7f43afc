#include "framing.hpp"
#include "flowguard/v1/control.pb.h"
#include "flowguard/v1/flowguard.pb.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

using namespace flowguard;

namespace {

v1::AgentMessage sample_batch(int flows) {
  v1::AgentMessage m;
  auto* batch = m.mutable_flows();
  batch->set_batch_seq(7);
  for (int i = 0; i < flows; ++i) {
    auto* f = batch->add_flows();
    f->set_flow_id(1000 + static_cast<std::uint64_t>(i));
    f->set_src_ip(std::string("\x0a\x00\x00\x01", 4));
    f->set_dst_ip(std::string(16, '\x20'));
    f->set_src_port(40000 + static_cast<std::uint32_t>(i));
    f->set_dst_port(443);
    f->set_protocol(6);
    f->set_kind(i % 2 ? v1::RECORD_KIND_FINAL : v1::RECORD_KIND_SNAPSHOT);
    for (int k = 0; k < 81; ++k) f->add_features(static_cast<float>(k) * 0.5f);
    f->add_features(std::numeric_limits<float>::infinity());
    f->add_features(std::numeric_limits<float>::quiet_NaN());
  }
  return m;
}

std::vector<std::string> drain(wire::FrameDecoder& d) {
  std::vector<std::string> out;
  std::string_view p;
  while (d.next(p)) out.emplace_back(p);
  return out;
}

}  // namespace

TEST_CASE("a frame round-trips through the decoder") {
  const auto msg = sample_batch(3);
  const std::string frame = wire::encode_frame(msg);
  REQUIRE(frame.size() == wire::kHeaderBytes + msg.ByteSizeLong());
  // Big-endian length prefix.
  const auto len = static_cast<std::uint32_t>(msg.ByteSizeLong());
  CHECK(static_cast<unsigned char>(frame[0]) == ((len >> 24) & 0xff));
  CHECK(static_cast<unsigned char>(frame[3]) == (len & 0xff));

  wire::FrameDecoder dec;
  dec.feed(frame);
  auto frames = drain(dec);
  REQUIRE(frames.size() == 1);
  v1::AgentMessage back;
  std::string why;
  REQUIRE(wire::parse_payload(frames[0], back, why));
  REQUIRE(back.flows().flows_size() == 3);
  CHECK(back.flows().flows(2).src_port() == 40002);
  CHECK(std::isinf(back.flows().flows(0).features(81)));
  CHECK(std::isnan(back.flows().flows(0).features(82)));
  CHECK(dec.buffered() == 0);
}

TEST_CASE("several frames in one read are all returned, in order") {
  std::string stream;
  for (int i = 1; i <= 5; ++i) REQUIRE(wire::append_frame(sample_batch(i), stream) == wire::FrameError::none);
  wire::FrameDecoder dec;
  dec.feed(stream);
  auto frames = drain(dec);
  REQUIRE(frames.size() == 5);
  for (int i = 0; i < 5; ++i) {
    v1::AgentMessage m;
    std::string why;
    REQUIRE(wire::parse_payload(frames[static_cast<std::size_t>(i)], m, why));
    CHECK(m.flows().flows_size() == i + 1);
  }
}

TEST_CASE("a stream split at every byte boundary decodes identically") {
  std::string stream;
  REQUIRE(wire::append_frame(sample_batch(2), stream) == wire::FrameError::none);
  v1::ServerMessage ack;
  ack.mutable_hello_ack()->set_accepted(true);
  ack.mutable_hello_ack()->mutable_model()->set_version("2026.11.21");
  REQUIRE(wire::append_frame(ack, stream) == wire::FrameError::none);
  const auto expected = [&] {
    wire::FrameDecoder whole;
    whole.feed(stream);
    return drain(whole);
  }();
  REQUIRE(expected.size() == 2);

  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    wire::FrameDecoder dec;
    std::vector<std::string> got;
    dec.feed(std::string_view(stream).substr(0, cut));
    for (auto& f : drain(dec)) got.push_back(f);
    dec.feed(std::string_view(stream).substr(cut));
    for (auto& f : drain(dec)) got.push_back(f);
    INFO("cut at byte " << cut);
    REQUIRE(got == expected);
  }

  // One byte at a time.
  wire::FrameDecoder dec;
  std::vector<std::string> got;
  for (char c : stream) {
    dec.feed(std::string_view(&c, 1));
    for (auto& f : drain(dec)) got.push_back(f);
  }
  CHECK(got == expected);
}

TEST_CASE("a zero-length frame is an empty message, which the application can reject") {
  wire::FrameDecoder dec;
  dec.feed(std::string("\0\0\0\0", 4));
  std::string_view p;
  REQUIRE(dec.next(p));
  CHECK(p.empty());
  v1::AgentMessage m;
  std::string why;
  REQUIRE(wire::parse_payload(p, m, why));
  CHECK(m.body_case() == v1::AgentMessage::BODY_NOT_SET);
  CHECK_FALSE(dec.failed());
}

TEST_CASE("an over-limit length fails before the payload is buffered") {
  wire::FrameDecoder dec(1024);
  // Declares 1025 bytes but sends only the header and a few bytes.
  dec.feed(
      std::string("\x00\x00\x04\x01"
                  "abc",
                  7));
  std::string_view p;
  CHECK_FALSE(dec.next(p));
  REQUIRE(dec.failed());
  CHECK(dec.error() == wire::FrameError::oversized);
  CHECK(dec.declared_length() == 1025);
  CHECK(dec.buffered() == 0);
  // Stays failed: later bytes are ignored.
  dec.feed(wire::encode_frame(sample_batch(1)));
  CHECK_FALSE(dec.next(p));

  // The default limit is 16 MiB; 0xFFFFFFFF is refused too.
  wire::FrameDecoder big;
  big.feed(std::string("\xff\xff\xff\xff", 4));
  CHECK_FALSE(big.next(p));
  CHECK(big.error() == wire::FrameError::oversized);
  CHECK_FALSE(wire::to_string(big.error()).empty());
}

TEST_CASE("the encoder refuses a message over the limit") {
  const auto msg = sample_batch(50);
  std::string out = "prefix";
  CHECK(wire::append_frame(msg, out, 100) == wire::FrameError::encode_failed);
  CHECK(out == "prefix");
  CHECK(wire::encode_frame(msg, 100).empty());
}

TEST_CASE("garbage payloads give a clear error and never crash") {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255), len(1, 300);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string payload(static_cast<std::size_t>(len(rng)), '\0');
    for (auto& c : payload) c = static_cast<char>(byte(rng));
    v1::AgentMessage m;
    std::string why;
    if (!wire::parse_payload(payload, m, why)) {
      ++rejected;
      CHECK(why.find("malformed flowguard.v1.AgentMessage") != std::string::npos);
    }
  }
  // Random bytes are almost never a valid message; the point is that every one was handled.
  CHECK(rejected > 1000);

  // A truncated valid payload is rejected.
  const std::string good = sample_batch(2).SerializeAsString();
  v1::AgentMessage m;
  std::string why;
  CHECK_FALSE(wire::parse_payload(std::string_view(good).substr(0, good.size() - 3), m, why));
}

TEST_CASE("the decoder's buffer does not grow with the number of frames") {
  const std::string frame = wire::encode_frame(sample_batch(4));
  wire::FrameDecoder dec;
  std::size_t frames = 0;
  for (int i = 0; i < 10000; ++i) {
    dec.feed(frame);
    frames += drain(dec).size();
    REQUIRE(dec.buffered() == 0);
  }
  CHECK(frames == 10000);
}

TEST_CASE("control messages use the same framing") {
  v1::ControlRequest req;
  req.mutable_block()->set_address("2001:db8::1");
  req.mutable_block()->set_ttl_seconds(600);
  wire::FrameDecoder dec;
  dec.feed(wire::encode_frame(req));
  std::string_view p;
  REQUIRE(dec.next(p));
  v1::ControlRequest back;
  std::string why;
  REQUIRE(wire::parse_payload(p, back, why));
  CHECK(back.block().address() == "2001:db8::1");
  CHECK(back.block().ttl_seconds() == 600);
}
