#pragma once
// Plugs enforcement into flowguard-capture through core/extension.hpp: registers the Enforcement
// options, starts Enforcement after parsing, adds it to the verdict fan-out, stops it at exit.

#include "core/extension.hpp"

#include <memory>

namespace flowguard::capture {

std::unique_ptr<AgentExtension> make_enforce_extension();

}  // namespace flowguard::capture
