// libFuzzer target: one frame through the native decoder of the selected link type and through the
// reference (jnetpcap) scan, plus the payload lengths both profiles derive from the offsets. Input
// layout: fuzz_input.hpp. The decoders must never read out of bounds, whatever the bytes.
#include "fuzz_input.hpp"

#include "decode/decode_counters.hpp"
#include "decode/decoder.hpp"
#include "decode/reference_scan.hpp"

using namespace flowguard::capture;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int link = fgfuzz::kLinkTypes[data[0] % fgfuzz::kLinkTypes.size()];
  const auto frame = std::as_bytes(std::span(data + 2, size - 2));
  const auto wirelen = static_cast<std::uint32_t>(frame.size() + (data[1] >> 4));  // may exceed caplen
  DecodedPacket p;
  DecodeCounters counters;
  if (decode_packet(link, frame, 1'000'000, wirelen, p, counters) == DecodeStatus::decoded) {
    (void)cicids2017_payload_len(p);
    (void)corrected_payload_len(p);
  }
  const auto build = (data[1] & fgfuzz::kCicids) ? ReferenceBuild::cicids2017 : ReferenceBuild::corrected;
  if (decode_reference(build, frame, 1'000'000, wirelen, p, counters) == DecodeStatus::decoded) {
    (void)cicids2017_payload_len(p);
    (void)corrected_payload_len(p);
  }
  return 0;
}
