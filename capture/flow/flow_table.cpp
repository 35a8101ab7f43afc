#include "flow/flow_table.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <new>

namespace flowguard::capture {
namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;

std::size_t bucket_count(std::uint32_t max_flows) {
  return std::bit_ceil(static_cast<std::size_t>(max_flows) * 2);
}

}  // namespace

FlowTable::HugePageBlock::HugePageBlock(std::size_t bytes) {
  // Whole pages: munmap() of the tail needs a page-aligned address, and a failed trim would leave up to
  // 2 MiB mapped for good with every table built.
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  bytes_ = (std::max<std::size_t>(bytes, 1) + page - 1) / page * page;
  // Over-map by one huge page and trim, so the block starts on a 2 MiB boundary.
  const std::size_t mapped = bytes_ + huge_page;
  void* raw =
      ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (begin + huge_page - 1) & ~(huge_page - 1);
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const std::uintptr_t tail = aligned + bytes_;
  const std::uintptr_t end = begin + mapped;
  if (end > tail) ::munmap(reinterpret_cast<void*>(tail), end - tail);
  data_ = reinterpret_cast<void*>(aligned);
  // Only advice: without transparent huge pages the block is ordinary lazily touched memory.
  (void)::madvise(data_, bytes_, MADV_HUGEPAGE);
}

FlowTable::HugePageBlock::~HugePageBlock() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
}

FlowTable::FlowTable(std::uint32_t max_flows, std::uint64_t seed)
    : max_flows_(max_flows == 0 ? 1 : max_flows),
      mask_(static_cast<std::uint32_t>(bucket_count(max_flows_) - 1)),
      hasher_(seed),
      buckets_(bucket_count(max_flows_)),
      index_block_(buckets_ * sizeof(Entry)),
      // Fresh anonymous memory is zero: every bucket starts empty (slot_plus1 == 0).
      index_(static_cast<Entry*>(index_block_.data())),
      pool_block_(sizeof(FlowRecord) * max_flows_),
      pool_(static_cast<FlowRecord*>(pool_block_.data())) {
  free_.reserve(max_flows_);
  occupied_.reserve(max_flows_);
  activity_.reserve(max_flows_);
}

std::uint32_t FlowTable::find(const FlowKey& key, std::uint64_t hash) const {
  const auto h32 = static_cast<std::uint32_t>(hash);
  for (std::uint32_t i = h32 & mask_;; i = (i + 1) & mask_) {
    const Entry& e = index_[i];
    if (e.slot_plus1 == 0) return npos;
    if (e.hash32 == h32 && pool_[e.slot_plus1 - 1].key == key) return e.slot_plus1 - 1;
  }
}

std::uint32_t FlowTable::find_either(const FlowKey& key, const FlowKey& reverse, std::uint64_t hash) const {
  const auto h32 = static_cast<std::uint32_t>(hash);
  for (std::uint32_t i = h32 & mask_;; i = (i + 1) & mask_) {
    const Entry& e = index_[i];
    if (e.slot_plus1 == 0) return npos;
    if (e.hash32 == h32) {
      const FlowKey& stored = pool_[e.slot_plus1 - 1].key;
      if (stored == key || stored == reverse) return e.slot_plus1 - 1;
    }
  }
}

void FlowTable::prefetch_record(std::uint64_t hash) const {
  const auto h32 = static_cast<std::uint32_t>(hash);
  for (std::uint32_t i = h32 & mask_;; i = (i + 1) & mask_) {
    const Entry& e = index_[i];
    if (e.slot_plus1 == 0) return;
    if (e.hash32 == h32) {
      const char* rec = reinterpret_cast<const char*>(&pool_[e.slot_plus1 - 1]);
      for (std::size_t off = 0; off < sizeof(FlowRecord); off += 64) __builtin_prefetch(rec + off, 1);
      return;
    }
  }
}

std::uint32_t FlowTable::insert(const FlowKey& key, std::uint64_t hash) {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = never_used_++;
  }
  FlowRecord* rec = ::new (&pool_[slot]) FlowRecord{};
  rec->key = key;
  rec->hash32 = static_cast<std::uint32_t>(hash);
  rec->dense_pos = static_cast<std::uint32_t>(occupied_.size());
  occupied_.push_back(slot);
  activity_.push_back(0);

  std::uint32_t i = rec->hash32 & mask_;
  while (index_[i].slot_plus1 != 0) i = (i + 1) & mask_;
  index_[i] = Entry{slot + 1, rec->hash32};
  return slot;
}

void FlowTable::erase(std::uint32_t slot) {
  FlowRecord& rec = pool_[slot];
  std::uint32_t i = rec.hash32 & mask_;
  while (index_[i].slot_plus1 != slot + 1) i = (i + 1) & mask_;
  // Backward-shift deletion keeps every probe chain contiguous without tombstones.
  for (std::uint32_t j = (i + 1) & mask_; index_[j].slot_plus1 != 0; j = (j + 1) & mask_) {
    const std::uint32_t home = index_[j].hash32 & mask_;
    if (((j - home) & mask_) >= ((j - i) & mask_)) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = Entry{};

  const std::uint32_t pos = rec.dense_pos;
  const std::uint32_t moved = occupied_.back();
  occupied_[pos] = moved;
  activity_[pos] = activity_.back();
  pool_[moved].dense_pos = pos;
  occupied_.pop_back();
  activity_.pop_back();
  free_.push_back(slot);
}

void FlowTable::clear() {
  // A few records: delete them one by one rather than touching the whole index.
  if (occupied_.size() < buckets_ / 16) {
    while (!occupied_.empty()) erase(occupied_.back());
    return;
  }
  std::fill(index_, index_ + buckets_, Entry{});
  occupied_.clear();
  activity_.clear();
  free_.clear();
  never_used_ = 0;
}

std::size_t FlowTable::bytes_per_flow() const {
  return sizeof(FlowRecord) + (buckets_ * sizeof(Entry)) / max_flows_ + 2 * sizeof(std::uint32_t) +
         sizeof(std::int64_t);
}

}  // namespace flowguard::capture
