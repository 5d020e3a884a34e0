// Progress reporting for long work: a one-line, self-overwriting status on stderr when stderr is
// a terminal (episode, figures, rate, ETA), nothing otherwise, so logs of batch jobs stay clean.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace fsh {

class Progress {
 public:
  // total: units of work expected (0 = unknown); label: e.g. "episode".
  Progress(int64_t total, std::string label, bool enabled = true);
  ~Progress();
  // Reports that `done` units are complete; `extra` is appended (e.g. "loss 0.412 acc 91.3%").
  // Redraws at most every 0.2 s.
  void update(int64_t done, const std::string& extra = "");
  // Clears the line (before other messages are printed, and at the end).
  void clear();
  // Units per second since construction (or since the first update after a resume).
  double rate(int64_t done) const;

  static bool stderr_is_terminal();

 private:
  int64_t total_;
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  int64_t first_done_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace fsh
