#include "link/in_flight.hpp"

namespace flowguard::capture {

void InFlightTable::add(std::uint64_t seq, InFlightBatch batch) {
  flows_ += batch.metas.size();
  batches_.emplace(seq, std::move(batch));
}

std::optional<InFlightBatch> InFlightTable::take(std::uint64_t seq) {
  auto it = batches_.find(seq);
  if (it == batches_.end()) return std::nullopt;
  InFlightBatch b = std::move(it->second);
  batches_.erase(it);
  return b;
}

std::size_t InFlightTable::clear() {
  const std::size_t n = flows_;
  batches_.clear();
  flows_ = 0;
  return n;
}

std::size_t InFlightTable::trim_oldest(std::size_t max_flows) {
  std::size_t dropped = 0;
  while (flows_ > max_flows && !batches_.empty()) {
    const auto it = batches_.begin();  // lowest batch_seq: the oldest
    dropped += it->second.metas.size();
    flows_ -= it->second.metas.size();
    batches_.erase(it);
  }
  return dropped;
}

std::vector<std::pair<std::size_t, std::string>> InFlightTable::frames() const {
  std::vector<std::pair<std::size_t, std::string>> out;
  for (const auto& [seq, b] : batches_) out.emplace_back(b.metas.size(), b.frame);
  return out;
}

}  // namespace flowguard::capture
