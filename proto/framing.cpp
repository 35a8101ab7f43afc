#include "framing.hpp"

#include <google/protobuf/message_lite.h>

#include <cstring>
#include <limits>

namespace flowguard::wire {

std::string_view to_string(FrameError e) {
  switch (e) {
    case FrameError::none:
      return "ok";
    case FrameError::oversized:
      return "frame length exceeds the maximum frame size";
    case FrameError::encode_failed:
      return "message could not be serialized within the maximum frame size";
  }
  return "unknown frame error";
}

FrameError append_frame(const google::protobuf::MessageLite& msg, std::string& out,
                        std::uint32_t max_frame_bytes) {
  const std::size_t size = msg.ByteSizeLong();
  if (size > max_frame_bytes) return FrameError::encode_failed;
  const std::size_t start = out.size();
  out.resize(start + kHeaderBytes + size);
  auto* p = reinterpret_cast<unsigned char*>(out.data() + start);
  p[0] = static_cast<unsigned char>(size >> 24);
  p[1] = static_cast<unsigned char>(size >> 16);
  p[2] = static_cast<unsigned char>(size >> 8);
  p[3] = static_cast<unsigned char>(size);
  if (size > 0 && !msg.SerializeToArray(p + kHeaderBytes, static_cast<int>(size))) {
    out.resize(start);
    return FrameError::encode_failed;
  }
  return FrameError::none;
}

std::string encode_frame(const google::protobuf::MessageLite& msg, std::uint32_t max_frame_bytes) {
  std::string out;
  if (append_frame(msg, out, max_frame_bytes) != FrameError::none) out.clear();
  return out;
}

FrameDecoder::FrameDecoder(std::uint32_t max_frame_bytes) : max_(max_frame_bytes) {}

void FrameDecoder::feed(std::span<const std::byte> bytes) {
  feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed() || bytes.empty()) return;
  compact();
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::compact() {
  // Drop consumed bytes once they dominate, so the buffer stays near one frame plus one read.
  if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
}

bool FrameDecoder::next(std::string_view& payload) {
  if (failed()) return false;
  const std::size_t avail = buf_.size() - pos_;
  if (avail < kHeaderBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  const std::uint32_t len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                            (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
  if (len > max_) {
    declared_ = len;
    error_ = FrameError::oversized;
    buf_.clear();
    buf_.shrink_to_fit();
    pos_ = 0;
    return false;
  }
  if (avail - kHeaderBytes < len) return false;
  payload = std::string_view(buf_.data() + pos_ + kHeaderBytes, len);
  pos_ += kHeaderBytes + len;
  return true;
}

bool parse_payload(std::string_view payload, google::protobuf::MessageLite& msg, std::string& why) {
  if (payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    why = "payload too large to parse";
    return false;
  }
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    why = "malformed " + msg.GetTypeName() + " payload (" + std::to_string(payload.size()) + " bytes)";
    return false;
  }
  return true;
}

}  // namespace flowguard::wire
