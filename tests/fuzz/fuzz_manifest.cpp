// libFuzzer target: the JSON manifest embedded in every model bundle, as a reload reads it from a file
// the operator (or an attacker with write access to the watch directory) supplied. from_json() must
// either accept or throw ManifestError (any other exception escapes and is a finding); an accepted
// manifest must survive to_json() -> from_json() unchanged in its schema.
#include "bundle/manifest.hpp"

#include <cstdlib>
#include <string>

using flowguard::models::Manifest;
using flowguard::models::ManifestError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Manifest m;
  try {
    m = Manifest::from_json(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const ManifestError&) {
    return 0;
  }
  (void)m.problems();
  (void)m.benign_index();
  Manifest again;
  try {
    again = Manifest::from_json(m.to_json());
  } catch (const ManifestError&) {
    std::abort();  // what we accepted we must be able to write back
  }
  if (again.feature_names != m.feature_names || again.class_names != m.class_names ||
      again.feature_profile != m.feature_profile)
    std::abort();
  return 0;
}
