// Progress line on stderr (see progress.hpp).
#include "util/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace fsh {

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(int64_t total, std::string label, bool enabled)
    : total_(total), label_(std::move(label)), enabled_(enabled && stderr_is_terminal()) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { clear(); }

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

double Progress::rate(int64_t done) const {
  if (first_done_ < 0) return 0.0;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return secs > 0 ? static_cast<double>(done - first_done_) / secs : 0.0;
}

void Progress::update(int64_t done, const std::string& extra) {
  if (first_done_ < 0) {
    first_done_ = done;
    start_ = std::chrono::steady_clock::now();
  }
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && done != total_) return;
  last_draw_ = now;
  const double r = rate(done);
  std::string line = label_ + " " + std::to_string(done);
  if (total_ > 0) line += "/" + std::to_string(total_);
  if (!extra.empty()) line += "  " + extra;
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %.2f/s", r);
  line += buf;
  if (total_ > 0 && r > 0) line += "  ETA " + format_duration((total_ - done) / r);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::clear() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace fsh
