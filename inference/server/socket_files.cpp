#include "socket_files.hpp"

#include <spdlog/spdlog.h>

namespace flowguard::inference {

std::string default_control_path(const std::string& socket_path) {
  const std::string suffix = ".sock";
  if (socket_path.size() > suffix.size() &&
      socket_path.compare(socket_path.size() - suffix.size(), suffix.size(), suffix) == 0)
    return socket_path.substr(0, socket_path.size() - suffix.size()) + ".ctl";
  return socket_path + ".ctl";
}

net::Fd listen_socket_file(const std::string& path, const std::string& what) {
  net::ListenOptions o;
  o.what = what;
  o.mode = 0660;
  o.nonblocking = true;
  auto l = net::listen(path, o).value_or_throw();
  if (l.replaced_stale) spdlog::warn("removed stale {} '{}' (nothing was listening)", what, path);
  return std::move(l.fd);
}

}  // namespace flowguard::inference
