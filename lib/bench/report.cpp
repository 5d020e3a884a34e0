// fsh-bench's markdown, CSV and JSON (see report.hpp; the SVG is in plot.cpp).
#include "bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace fsh::bench {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string pct(double v) { return fmt("%.2f%%", 100 * v); }

// "1,234,567"
std::string grouped(int64_t v) {
  std::string d = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return (v < 0 ? "-" : "") + out;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

std::string shape(const SectionResult& s) {
  return std::to_string(s.height) + "x" + std::to_string(s.width) + "x" +
         std::to_string(s.channels);
}

std::string delta_text(const Cell& c) {
  if (!c.has_delta) return "(reference)";
  return fmt("%+.2f", 100 * c.delta.mean) + " ± " + fmt("%.2f", 100 * c.delta.ci95) + " pp";
}

std::string latency_text(const LatencyStats& l) {
  if (l.n == 0) return "-";
  return fmt("%.2f", l.median) + " / " + fmt("%.2f", l.p95);
}

// A markdown table cell's text: '|' escaped.
std::string md_cell(const std::string& v) {
  std::string o;
  for (char c : v) o += c == '|' ? std::string("\\|") : std::string(1, c);
  return o;
}

// How a configuration table names the model of an entrant with several (one per way count):
// its file name, or its path where two of the entrant's files share a name.
std::string model_name(const SectionResult& s, const MethodSummary& m) {
  const std::string base = m.path.substr(m.path.find_last_of('/') + 1);
  for (const MethodSummary& o : s.methods)
    if (&o != &m && o.label == m.label && o.path.substr(o.path.find_last_of('/') + 1) == base)
      return m.path;
  return base;
}

// A cell's row label: the entrant's, with the model that scored it when it has several.
std::string row_label(const SectionResult& s, const Cell& c) {
  const MethodSummary& m = s.methods[c.summary];
  return m.several ? c.label + " (" + model_name(s, m) + ")" : c.label;
}

std::string memory_text(const PeakMemory::Reading& m) {
  if (m.peak_mib <= 0) return "-";
  if (!m.per_stretch) return fmt("%.0f", m.peak_mib) + " (process)";
  return fmt("%.0f", m.peak_mib) + " (+" + fmt("%.0f", std::max(0.0, m.peak_mib - m.baseline_mib)) +
         ")";
}

}  // namespace

std::string report_markdown(const Report& r) {
  std::ostringstream o;
  const int T = r.kernels.threads;
  o << "# fsh-bench\n\n";
  o << "fsh " << r.version << "; " << T << " thread" << (T == 1 ? "" : "s") << "; seed "
    << r.seed << "; BLAS kernel " << r.kernels.blas.corename << " (" << r.kernels.blas.config
    << "). Whole run: " << fmt("%.0f", r.wall_seconds) << " s wall, "
    << fmt("%.0f", r.cpu_seconds) << " s CPU";
  if (r.load_start >= 0)
    o << "; load average " << fmt("%.2f", r.load_start) << " at the start, "
      << fmt("%.2f", r.load_end) << " at the end, on " << r.cpus << " CPUs"
      << (std::max(r.load_start, r.load_end) > 1.5 * r.cpus
              ? " (a shared machine: times and rates are below what it does alone)"
              : "");
  o << ".\n\n";
  o << "Accuracy: mean over the test episodes ± 95% CI (1.96·sd/√n). Δ: the paired difference "
       "with the reference method on the same episodes, mean ± 95% CI of the per-episode "
       "differences, in percentage points. Adaptation: one episode's support set to its "
       "adapted classifier, warm, median / 95th percentile in ms. Meta-training: optimizer "
       "steps as fsh-train takes them on the configuration's episodes, tasks per second. "
       "Adapted: bytes fsh-adapted stores per episode. man 1 fsh-bench explains every "
       "figure.\n";
  for (const SectionResult& s : r.sections) {
    o << "\n## " << s.name << " (" << shape(s) << ")\n";
    for (const ConfigResult& c : s.configs) {
      o << "\n### " << c.spec.name() << ", " << c.episodes << " episodes, " << c.spec.n_query
        << " queries per class\n\n";
      o << "| Method | Accuracy | Δ vs " << s.reference << " | Adaptation time (ms), 1 thread | "
        << "Adaptation time (ms), " << T << " threads | Meta-training (tasks/s) | "
        << "Adapted (KiB/episode) |\n";
      o << "|---|---|---|---|---|---|---|\n";
      for (const Cell& cell : c.cells)
        o << "| " << md_cell(row_label(s, cell)) << " | " << pct(cell.accuracy.mean) << " ± "
          << pct(cell.accuracy.ci95) << " | " << delta_text(cell) << " | "
          << latency_text(cell.adapt_ms_1t) << " | " << latency_text(cell.adapt_ms_nt) << " | "
          << (cell.train_tasks_timed ? fmt("%.1f", cell.train_tasks_per_s) : "-") << " | "
          << fmt("%.1f", cell.adapted_bytes_per_episode / 1024.0) << " |\n";
    }
    o << "\n### Methods (" << shape(s) << ")\n\n";
    o << "| Method | Model | Parameters | θ (MiB) | Model file (MiB) | Training | Peak memory, "
         "adaptation (MiB) | Peak memory, meta-training (MiB) | Settings |\n";
    o << "|---|---|---|---|---|---|---|---|---|\n";
    for (const MethodSummary& m : s.methods) {
      std::string training = grouped(m.trained_episodes) + " episodes in " +
                             fmt("%.0f", m.trained_seconds) + " s";
      if (m.trained_seconds > 0)
        training += " (" + fmt("%.1f", double(m.trained_episodes) / m.trained_seconds) +
                    " episodes/s)";
      if (m.trained_here) training += ", " + m.stopped_by;
      std::string train_memory = memory_text(m.train_memory);
      if (m.trained_here) train_memory += "; training run " + memory_text(m.training_memory);
      std::string model = m.path;
      if (m.ways > 0) model += " (" + std::to_string(m.ways) + "-way head)";
      if (m.configs.empty()) model += ", scored no configuration";
      o << "| " << m.label << (m.label != m.method ? " (" + m.method + ")" : "") << " | "
        << md_cell(model) << " | " << grouped(m.parameters) << " | " << fmt("%.2f", mib(double(m.param_bytes))) << " | "
        << fmt("%.2f", mib(double(m.file_bytes))) << " | " << training << " | "
        << memory_text(m.adapt_memory) << " | " << train_memory << " | " << m.settings
        << "; bn " << m.bn << " |\n";
    }
  }
  if (r.sections.size() > 1) {
    // Per-episode times of every shape side by side (each section's first configuration).
    o << "\n## Per-episode times by image shape\n\n| Method |";
    std::string rule = "|---|";
    for (const SectionResult& s : r.sections) {
      const ConfigResult& c = s.configs.front();
      o << " " << shape(s) << " " << c.spec.key() << " Q" << c.spec.n_query
        << ": meta-training (ms/task) | " << shape(s) << ": adaptation (ms, 1 thread) |";
      rule += "---|---|";
    }
    o << "\n" << rule << "\n";
    std::vector<std::string> labels;  // the first section's entrants
    for (const MethodSummary& m : r.sections.front().methods)
      if (std::find(labels.begin(), labels.end(), m.label) == labels.end())
        labels.push_back(m.label);
    for (const std::string& label : labels) {
      o << "| " << label << " |";
      for (const SectionResult& s : r.sections) {
        const Cell* cell = nullptr;
        for (const Cell& c : s.configs.front().cells)
          if (c.label == label) cell = &c;
        if (!cell) {
          o << " - | - |";
          continue;
        }
        o << " " << (cell->train_tasks_per_s > 0 ? fmt("%.1f", 1e3 / cell->train_tasks_per_s) : "-")
          << " | " << fmt("%.2f", cell->adapt_ms_1t.median) << " |";
      }
      o << "\n";
    }
  }
  const KernelFigures& k = r.kernels;
  o << "\n## Kernels\n\nBLAS: " << k.blas.config << "; kernel: **" << k.blas.corename
    << "**. fsh runs OpenBLAS single-threaded and splits work among its own threads; the "
       "sgemm row with "
    << T << " threads is OpenBLAS's own threading, the ceiling for comparison.\n\n";
  o << "| Kernel | 1 thread (GFLOP/s) | " << T << " threads (GFLOP/s) |\n|---|---|---|\n";
  o << "| sgemm " << k.sgemm_size << "³ | " << fmt("%.1f", k.sgemm_gflops_1t) << " | "
    << fmt("%.1f", k.sgemm_gflops_nt) << " |\n";
  for (const ConvRate& c : k.conv) {
    const std::string what = std::to_string(c.shape.height) + "x" + std::to_string(c.shape.width) +
                             "x" + std::to_string(c.shape.in_channels) + ", batch " +
                             std::to_string(c.batch);
    o << "| Conv-4 forward, " << what << " | " << fmt("%.1f", c.forward_gflops_1t) << " | "
      << fmt("%.1f", c.forward_gflops_nt) << " |\n";
    o << "| Conv-4 backward, " << what << " | " << fmt("%.1f", c.backward_gflops_1t) << " | "
      << fmt("%.1f", c.backward_gflops_nt) << " |\n";
  }
  if (!r.sections.empty()) {
    std::string src;
    for (const MethodSummary& m : r.sections.front().methods)
      if (src.empty()) src = !m.adapt_memory.source.empty() ? m.adapt_memory.source
                                                             : m.train_memory.source;
    o << "\nPeak memory: resident set high-water mark, " << (src.empty() ? "not measured" : src)
      << ", while the method adapted to the timed episodes one at a time and while it took the "
         "timed meta-training steps (the highest over the configurations); in parentheses its "
         "growth over the resident memory when that began, the rest being what every method "
         "shares (program, dataset, episodes).\n";
  }
  if (!r.phases.empty()) {
    o << "\nWhere the time went (wall and CPU seconds; CPU counts every thread):\n\n"
         "| Phase | Wall (s) | CPU (s) |\n|---|---|---|\n";
    for (const Report::Phase& p : r.phases)
      o << "| " << p.name << " | " << fmt("%.1f", p.wall_seconds) << " | "
        << fmt("%.1f", p.cpu_seconds) << " |\n";
  }
  for (const std::string& n : r.notes) o << "\n" << n << "\n";
  return o.str();
}

namespace {

// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote or newline.
std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string o = "\"";
  for (char c : v) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

}  // namespace

std::string report_csv(const Report& r) {
  std::ostringstream o;
  o << "section,height,width,channels,configuration,n_way,k_shot,n_query,episodes,label,method,"
       "accuracy,ci95,sd,reference,delta,delta_ci95,delta_sd,adapt_ms_median_1t,adapt_ms_p95_1t,"
       "adapt_ms_median_nt,adapt_ms_p95_nt,threads,train_tasks_per_s,meta_batch,"
       "adapted_bytes_per_episode,parameters,param_bytes,model_file_bytes,trained_episodes,"
       "trained_seconds,adapt_peak_mib,adapt_baseline_mib,train_peak_mib,train_baseline_mib,"
       "memory_source,model\n";
  auto num = [](double v) { return fmt("%.9g", v); };
  for (const SectionResult& s : r.sections)
    for (const ConfigResult& c : s.configs)
      for (std::size_t i = 0; i < c.cells.size(); ++i) {
        const Cell& x = c.cells[i];
        const MethodSummary& m = s.methods[x.summary];
        o << csv_field(s.name) << ',' << s.height << ',' << s.width << ',' << s.channels << ','
          << c.spec.key() << ',' << c.spec.n_way << ',' << c.spec.k_shot << ',' << c.spec.n_query
          << ',' << c.episodes << ',' << csv_field(x.label) << ',' << csv_field(m.method) << ','
          << num(x.accuracy.mean) << ',' << num(x.accuracy.ci95) << ',' << num(x.accuracy.sd)
          << ',' << csv_field(s.reference) << ',' << (x.has_delta ? num(x.delta.mean) : "") << ','
          << (x.has_delta ? num(x.delta.ci95) : "") << ','
          << (x.has_delta ? num(x.delta.sd) : "") << ',' << num(x.adapt_ms_1t.median) << ','
          << num(x.adapt_ms_1t.p95) << ',' << num(x.adapt_ms_nt.median) << ','
          << num(x.adapt_ms_nt.p95) << ',' << r.kernels.threads << ','
          << num(x.train_tasks_per_s) << ',' << x.meta_batch << ','
          << num(x.adapted_bytes_per_episode) << ',' << m.parameters << ',' << m.param_bytes
          << ',' << m.file_bytes << ',' << m.trained_episodes << ',' << num(m.trained_seconds)
          << ',' << num(x.adapt_memory.peak_mib) << ',' << num(x.adapt_memory.baseline_mib)
          << ',' << num(x.train_memory.peak_mib) << ',' << num(x.train_memory.baseline_mib)
          << ',' << csv_field(x.adapt_memory.source.empty() ? x.train_memory.source
                                                             : x.adapt_memory.source)
          << ',' << csv_field(x.model) << '\n';
      }
  return o.str();
}

namespace {

std::string js(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

std::string jn(double v) { return std::isfinite(v) ? fmt("%.10g", v) : "null"; }

std::string mean_ci(const MeanCI& m) {
  return "{\"mean\":" + jn(m.mean) + ",\"ci95\":" + jn(m.ci95) + ",\"sd\":" + jn(m.sd) +
         ",\"n\":" + std::to_string(m.n) + "}";
}

std::string latency(const LatencyStats& l) {
  return "{\"median\":" + jn(l.median) + ",\"p95\":" + jn(l.p95) + ",\"mean\":" + jn(l.mean) +
         ",\"min\":" + jn(l.min) + ",\"max\":" + jn(l.max) + ",\"n\":" + std::to_string(l.n) + "}";
}

std::string memory(const PeakMemory::Reading& m) {
  return "{\"peak_mib\":" + jn(m.peak_mib) + ",\"baseline_mib\":" + jn(m.baseline_mib) +
         ",\"per_stretch\":" + (m.per_stretch ? "true" : "false") + ",\"source\":" +
         js(m.source) + "}";
}

}  // namespace

std::string report_json(const Report& r) {
  std::ostringstream o;
  const KernelFigures& k = r.kernels;
  o << "{\"fsh_bench\":1,\"version\":" << js(r.version) << ",\"command_line\":"
    << js(r.command_line) << ",\"seed\":" << r.seed << ",\"threads\":" << k.threads
    << ",\"quick\":" << (r.quick ? "true" : "false") << ",\"wall_seconds\":" << jn(r.wall_seconds)
    << ",\"cpu_seconds\":" << jn(r.cpu_seconds) << ",\"load_average_start\":" << jn(r.load_start)
    << ",\"load_average_end\":" << jn(r.load_end) << ",\"cpus\":" << r.cpus
    << ",\n\"kernels\":{\"blas_corename\":"
    << js(k.blas.corename) << ",\"blas_config\":" << js(k.blas.config)
    << ",\"sgemm_size\":" << k.sgemm_size << ",\"sgemm_gflops_1t\":" << jn(k.sgemm_gflops_1t)
    << ",\"sgemm_gflops_nt\":" << jn(k.sgemm_gflops_nt) << ",\"conv4\":[";
  for (std::size_t i = 0; i < k.conv.size(); ++i) {
    const ConvRate& c = k.conv[i];
    o << (i ? "," : "") << "{\"height\":" << c.shape.height << ",\"width\":" << c.shape.width
      << ",\"channels\":" << c.shape.in_channels << ",\"hidden\":" << c.shape.hidden
      << ",\"batch\":" << c.batch << ",\"forward_flops\":" << jn(c.forward_flops)
      << ",\"backward_flops\":" << jn(c.backward_flops)
      << ",\"forward_gflops_1t\":" << jn(c.forward_gflops_1t)
      << ",\"forward_gflops_nt\":" << jn(c.forward_gflops_nt)
      << ",\"backward_gflops_1t\":" << jn(c.backward_gflops_1t)
      << ",\"backward_gflops_nt\":" << jn(c.backward_gflops_nt) << "}";
  }
  o << "]},\n\"sections\":[";
  for (std::size_t si = 0; si < r.sections.size(); ++si) {
    const SectionResult& s = r.sections[si];
    o << (si ? ",\n" : "\n") << "{\"name\":" << js(s.name) << ",\"height\":" << s.height
      << ",\"width\":" << s.width << ",\"channels\":" << s.channels
      << ",\"reference\":" << js(s.reference) << ",\n\"methods\":[";
    for (std::size_t i = 0; i < s.methods.size(); ++i) {
      const MethodSummary& m = s.methods[i];
      o << (i ? ",\n" : "\n") << "{\"label\":" << js(m.label) << ",\"method\":" << js(m.method)
        << ",\"model\":" << js(m.path)
        << ",\"ways\":" << (m.ways > 0 ? std::to_string(m.ways) : "null")
        << ",\"bn\":" << js(m.bn)
        << ",\"settings\":" << js(m.settings) << ",\"parameters\":" << m.parameters
        << ",\"param_bytes\":" << m.param_bytes << ",\"model_file_bytes\":" << m.file_bytes
        << ",\"trained_episodes\":" << m.trained_episodes
        << ",\"trained_seconds\":" << jn(m.trained_seconds)
        << ",\"trained_here\":" << (m.trained_here ? "true" : "false")
        << ",\"stopped_by\":" << js(m.stopped_by)
        << ",\"adapt_memory\":" << memory(m.adapt_memory)
        << ",\"train_memory\":" << memory(m.train_memory)
        << ",\"training_run_memory\":" << memory(m.training_memory) << ",\"configurations\":[";
      for (std::size_t k = 0; k < m.configs.size(); ++k) o << (k ? "," : "") << js(m.configs[k]);
      o << "]}";
    }
    o << "],\n\"configurations\":[";
    for (std::size_t ci = 0; ci < s.configs.size(); ++ci) {
      const ConfigResult& c = s.configs[ci];
      o << (ci ? ",\n" : "\n") << "{\"key\":" << js(c.spec.key()) << ",\"n_way\":"
        << c.spec.n_way << ",\"k_shot\":" << c.spec.k_shot << ",\"n_query\":" << c.spec.n_query
        << ",\"episodes\":" << c.episodes << ",\"source\":" << js(c.source) << ",\"results\":[";
      for (std::size_t i = 0; i < c.cells.size(); ++i) {
        const Cell& x = c.cells[i];
        o << (i ? ",\n" : "\n") << "{\"label\":" << js(x.label) << ",\"model\":" << js(x.model)
          << ",\"accuracy\":" << mean_ci(x.accuracy)
          << ",\"delta\":" << (x.has_delta ? mean_ci(x.delta) : "null")
          << ",\"adapt_ms_1t\":" << latency(x.adapt_ms_1t)
          << ",\"adapt_ms_nt\":" << latency(x.adapt_ms_nt)
          << ",\"train_tasks_per_s\":" << jn(x.train_tasks_per_s)
          << ",\"train_tasks_timed\":" << x.train_tasks_timed
          << ",\"train_seconds_timed\":" << jn(x.train_seconds_timed)
          << ",\"meta_batch\":" << x.meta_batch
          << ",\"adapted_bytes_per_episode\":" << jn(x.adapted_bytes_per_episode)
          << ",\"adapt_memory\":" << memory(x.adapt_memory)
          << ",\"train_memory\":" << memory(x.train_memory)
          << ",\"episode_accuracy\":[";
        for (std::size_t e = 0; e < x.episode_accuracy.size(); ++e)
          o << (e ? "," : "") << jn(x.episode_accuracy[e]);
        o << "]}";
      }
      o << "]}";
    }
    o << "]}";
  }
  o << "],\n\"phases\":[";
  for (std::size_t i = 0; i < r.phases.size(); ++i)
    o << (i ? "," : "") << "{\"name\":" << js(r.phases[i].name)
      << ",\"wall_seconds\":" << jn(r.phases[i].wall_seconds)
      << ",\"cpu_seconds\":" << jn(r.phases[i].cpu_seconds) << "}";
  o << "],\n\"notes\":[";
  for (std::size_t i = 0; i < r.notes.size(); ++i) o << (i ? "," : "") << js(r.notes[i]);
  o << "]}\n";
  return o.str();
}

}  // namespace fsh::bench
