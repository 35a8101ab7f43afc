#pragma once
// The page's files (console/web), compiled into the binary by embed_assets.cmake.

#include <string_view>
#include <vector>

namespace flowguard::console {

struct WebAsset {
  std::string_view path;  // "/app.js"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<WebAsset>& web_assets();

}  // namespace flowguard::console
