#pragma once
// Length-prefixed framing shared by both processes: a 4-byte big-endian payload length, then the
// serialized protobuf message. The length is checked against a hard maximum before any byte of the
// payload is buffered, so a peer cannot make us allocate more than max_frame_bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace google::protobuf {
class MessageLite;
}

namespace flowguard::wire {

inline constexpr std::size_t kHeaderBytes = 4;
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 16u * 1024u * 1024u;

enum class FrameError {
  none,
  oversized,      // the declared length exceeds the limit
  encode_failed,  // the message could not be serialized (or is larger than the limit)
};

std::string_view to_string(FrameError e);

// Appends one frame holding `msg` to `out`. On failure `out` is left unchanged.
FrameError append_frame(const google::protobuf::MessageLite& msg, std::string& out,
                        std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Convenience for one message: the frame bytes, or an empty string on failure.
std::string encode_frame(const google::protobuf::MessageLite& msg,
                         std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Incremental decoder for a byte stream that arrives in arbitrary pieces (partial reads).
// Usage: feed() what the socket gave, then call next() until it returns false.
// After an error the decoder stays failed: the connection must be closed.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

  void feed(std::span<const std::byte> bytes);
  void feed(std::string_view bytes);

  // Yields the next complete payload. The view stays valid until the next feed() or next() call.
  bool next(std::string_view& payload);

  bool failed() const { return error_ != FrameError::none; }
  FrameError error() const { return error_; }
  std::uint32_t declared_length() const { return declared_; }  // of the failing frame, for messages
  std::size_t buffered() const { return buf_.size() - pos_; }
  std::uint32_t max_frame_bytes() const { return max_; }

 private:
  void compact();

  std::uint32_t max_;
  std::vector<char> buf_;
  std::size_t pos_ = 0;
  std::uint32_t declared_ = 0;
  FrameError error_ = FrameError::none;
};

// Parses a payload into `msg`; returns false (and leaves a reason in `why`) on a malformed payload.
bool parse_payload(std::string_view payload, google::protobuf::MessageLite& msg, std::string& why);

}  // namespace flowguard::wire
