// Cooperative interruption: SIGINT and SIGTERM set a flag that long loops poll, so a tool can
// finish its current step, write a last checkpoint and exit cleanly instead of dying mid-write.
#pragma once

namespace fsh {

// Installs the handlers (idempotent). A second signal of the same kind kills the process at once.
void install_interrupt_handlers();
// The signal number received (SIGINT or SIGTERM), or 0.
int interrupt_signal();

}  // namespace fsh
