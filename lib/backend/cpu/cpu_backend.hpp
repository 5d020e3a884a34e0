// The CPU backend's single instance (internal to lib/backend; use backend/registry.hpp).
#pragma once
#include "backend/backend.hpp"

namespace fsh::detail {
Backend& cpu_backend_instance();
}  // namespace fsh::detail
