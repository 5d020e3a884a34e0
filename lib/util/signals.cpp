// SIGINT/SIGTERM -> flag (see signals.hpp).
#include "util/signals.hpp"

#include <csignal>

namespace fsh {

namespace {
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  if (g_signal == sig) {
    // Second time: the user means it. Restore the default action and re-raise.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
}
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

int interrupt_signal() { return g_signal; }

}  // namespace fsh
