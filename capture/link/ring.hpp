#pragma once
// The link's queue between the capture thread (producer) and the sender thread (consumer): a fixed
// ring of preallocated slots, so on_flow() copies a record without allocating and never blocks.

#include "core/flow_identity.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flowguard::capture {

struct Slot {
  FlowIdentity meta;             // who the record is: joined with its verdict later
  std::int64_t enqueued_ns = 0;  // steady clock at on_flow(): the flow-to-verdict latency starts here
  std::vector<float> features;   // sized once, at construction
  std::vector<float> group_features;  // the announced groups' values, sized once
};

// Single producer (capture thread), single consumer (sender thread), fixed capacity.
class Ring {
 public:
  Ring(std::size_t capacity, std::size_t n_features, std::size_t n_group_features = 0)
      : slots_(std::max<std::size_t>(capacity, 1)) {
    for (auto& s : slots_) {
      s.features.resize(n_features);
      s.group_features.resize(n_group_features);
    }
  }
  Slot* reserve() {
    const auto h = head_.load(std::memory_order_relaxed);
    if (h - tail_.load(std::memory_order_acquire) >= slots_.size()) return nullptr;
    return &slots_[h % slots_.size()];
  }
  void publish() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  Slot* front() {
    const auto t = tail_.load(std::memory_order_relaxed);
    if (head_.load(std::memory_order_acquire) == t) return nullptr;
    return &slots_[t % slots_.size()];
  }
  void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  std::size_t size() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  std::vector<Slot> slots_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace flowguard::capture
