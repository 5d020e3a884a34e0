// fsh-eval: scores adapted classifiers (or a model, adapted on the fly) on the query sets of
// episodes: per-episode accuracy, mean ± 95% CI (1.96·sd/√n), as a table or --json; per-query
// predictions as TSV on request. With --adapted it classifies with nothing but that file.
// With --images it classifies image files instead: path, class name, probability, as TSV.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "common/cli.hpp"
#include "eval/stats.hpp"
#include "io/info.hpp"
#include "methods/checkpoint.hpp"
#include "methods/evaluate.hpp"
#include "methods/images.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/progress.hpp"

using namespace fsh;

namespace {

// Per-query predictions as TSV: to stdout for "-", else atomically (util/file.hpp).
void write_predictions(const std::string& path, const Evaluation& ev) {
  std::ostringstream out;
  out << "episode\tquery\timage\tlabel\tpredicted\tcorrect\n";
  for (const auto& p : ev.predictions)
    out << p.episode << '\t' << p.query << '\t' << p.image << '\t' << p.label << '\t'
        << p.predicted << '\t' << (p.label == p.predicted ? 1 : 0) << '\n';
  const std::string text = out.str();
  if (path == "-")
    std::cout << text;
  else
    write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()));
}

struct ImagesOptions {
  std::vector<std::string> inputs;
  int64_t top = 1;
  int64_t episode = -1;  // -1: the file's only classifier
  bool json = false, keep_going = false;
  InputChoice choice;
};

// A TSV field: tab, newline, carriage return and backslash escaped as \t \n \r \\.
std::string tsv_field(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6f", v);
  return b;
}

// The image files named by the arguments, in order: a folder gives its images (sorted), "-"
// the paths listed on stdin (one per line; folders there are expanded too).
std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (std::string& f : list_image_files(p)) out.push_back(std::move(f));
    } else {
      out.push_back(p);
    }
  };
  bool stdin_read = false;
  for (const std::string& a : args) {
    if (a != "-") {
      add(a);
      continue;
    }
    if (stdin_read) throw usage_error("--images: '-' (paths on stdin) may be given once");
    stdin_read = true;
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) add(line);
    }
  }
  if (out.empty()) throw usage_error("--images: no image paths given (stdin was empty)");
  return out;
}

// fsh-eval -a ADAPTED --images ...: classify image files with one adapted classifier.
int run_images(const std::string& tool, const std::string& adapted, const ImagesOptions& o,
               int verbosity) {
  const AdaptedSet a = read_adapted(adapted);
  int64_t e = o.episode;
  if (e < 0) {
    if (a.count() != 1)
      throw usage_error(adapted + " holds " + std::to_string(a.count()) +
                        " classifiers (one per episode); choose one with --episode, or make "
                        "one with fsh-adapt --support");
    e = 0;
  } else if (e >= a.count()) {
    throw usage_error("--episode must be in [0, " + std::to_string(a.count() - 1) + "]: " +
                      adapted + " holds " + std::to_string(a.count()) + " classifiers, got " +
                      std::to_string(e));
  }
  const std::vector<std::string> names = a.episode_class_names(e);
  if (o.top < 1 || o.top > a.n_way)
    throw usage_error("--top must be in [1, " + std::to_string(a.n_way) + "] (the classes of " +
                      adapted + "), got " + std::to_string(o.top));
  const PrepareOptions prep = input_preparation(a.model, o.choice, adapted);

  // Read and prepare every image first: an unreadable one stops the run before anything is
  // printed, unless --keep-going (then it is listed and left out).
  const std::vector<std::string> paths = expand_inputs(o.inputs);
  std::vector<std::string> kept;
  std::vector<std::pair<std::string, std::string>> skipped;  // path, message
  std::vector<uint8_t> pixels;
  for (const std::string& p : paths) {
    try {
      const Image img = read_image_file(p);
      if (a.source_height > 0 && !o.choice.any_size &&
          (img.height != a.source_height || img.width != a.source_width))
        throw format_error(p + ": image is " + std::to_string(img.height) + "x" +
                           std::to_string(img.width) + " (HxW) but the support images of " +
                           adapted + " were " + std::to_string(a.source_height) + "x" +
                           std::to_string(a.source_width) +
                           "; pass --any-size to resize it anyway");
      const Image ready = prepare_image(img, prep);
      pixels.insert(pixels.end(), ready.pixels.begin(), ready.pixels.end());
      kept.push_back(p);
    } catch (const error& ex) {
      if (!o.keep_going) throw;
      skipped.emplace_back(p, ex.what());
      cli::message(tool, verbosity, 0, "skipped: " + std::string(ex.what()));
    }
  }
  if (kept.empty())
    throw format_error("no image could be read (" + std::to_string(paths.size()) + " given)");
  check_polarity(a.model, o.choice, pixels, "the images");

  std::vector<int32_t> predicted;
  const auto probs = class_probabilities(a, e, pixels, static_cast<int64_t>(kept.size()),
                                         &predicted);
  // The top k: the prediction first, then by probability, ties by class order.
  auto ranking = [&](std::size_t i) {
    std::vector<int> order(std::size_t(a.n_way));
    for (int c = 0; c < a.n_way; ++c) order[c] = c;
    const int best = predicted[i];
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
      if ((x == best) != (y == best)) return x == best;
      return probs[i][x] > probs[i][y];
    });
    order.resize(std::size_t(o.top));
    return order;
  };
  std::ostringstream out;
  if (o.json) {
    out << "{\"adapted\": " << json_string(adapted) << ", \"method\": "
        << json_string(a.model.method) << ", \"classes\": [";
    for (std::size_t c = 0; c < names.size(); ++c) out << (c ? ", " : "") << json_string(names[c]);
    out << "], \"images\": [";
    for (std::size_t i = 0; i < kept.size(); ++i) {
      const auto order = ranking(i);
      out << (i ? ",\n  " : "\n  ") << "{\"path\": " << json_string(kept[i])
          << ", \"class\": " << json_string(names[order[0]])
          << ", \"probability\": " << number(probs[i][order[0]]) << ", \"top\": [";
      for (std::size_t k = 0; k < order.size(); ++k)
        out << (k ? ", " : "") << "{\"class\": " << json_string(names[order[k]])
            << ", \"probability\": " << number(probs[i][order[k]]) << "}";
      out << "]}";
    }
    out << "], \"skipped\": [";
    for (std::size_t i = 0; i < skipped.size(); ++i)
      out << (i ? ", " : "") << "{\"path\": " << json_string(skipped[i].first)
          << ", \"error\": " << json_string(skipped[i].second) << "}";
    out << "]}\n";
  } else {
    out << "path\tclass\tprobability";
    for (int64_t k = 2; k <= o.top; ++k) out << "\tclass_" << k << "\tprobability_" << k;
    out << '\n';
    for (std::size_t i = 0; i < kept.size(); ++i) {
      out << tsv_field(kept[i]);
      for (int c : ranking(i)) out << '\t' << tsv_field(names[c]) << '\t' << number(probs[i][c]);
      out << '\n';
    }
  }
  std::cout << out.str() << std::flush;
  if (!skipped.empty()) {
    cli::message(tool, verbosity, 0,
                 std::to_string(skipped.size()) + " of " + std::to_string(paths.size()) +
                     " images skipped (listed above)");
    return 3;
  }
  return 0;
}

int run(int argc, char** argv) {
  const std::string tool = "fsh-eval";
  CLI::App app("Score adapted classifiers (or a model, adapted on the fly) on episodes' query "
               "sets: accuracy, mean ± 95% confidence interval, predictions. Or classify image "
               "files with an adapted classifier (--images).",
               tool);
  app.set_version_flag("--version", cli::version_text(tool));
  cli::CommonOptions common;
  std::string adapted, model, episodes, dataset, predictions, bn;
  bool json = false, invert = false, no_invert = false;
  ImagesOptions img;
  auto* a_opt = app.add_option("-a,--adapted", adapted, "adapted classifiers (fsh-adapted)");
  auto* m_opt = app.add_option("-m,--model", model, "a trained model (fsh-model), adapted to "
                                                    "each episode in memory");
  a_opt->excludes(m_opt);
  auto* e_opt = app.add_option("-e,--episodes", episodes, "the episodes (fsh-episodes)");
  auto* d_opt = app.add_option("--dataset", dataset,
                               "the dataset the episodes index (default: embedded images or the "
                               "path recorded in the episodes file)");
  auto* b_opt =
      app.add_option("--bn", bn, "with --model: support or transductive (default: the model's)");
  app.add_flag("--json", json, "print the summary (with --images: the predictions) as JSON");
  auto* p_opt = app.add_option("--predictions", predictions,
                               "write per-query predictions as TSV to this file (- = stdout)");
  auto* i_opt = app.add_option("--images", img.inputs,
                               "classify these image files (PNG/JPEG), folders of them, or - for "
                               "a list of paths on stdin, with the --adapted classifier: TSV of "
                               "path, class, probability")
                    ->expected(1, -1)
                    ->allow_extra_args(true);
  for (auto* o : {e_opt, m_opt, d_opt, b_opt, p_opt}) i_opt->excludes(o);
  auto* t_opt = app.add_option("--top", img.top,
                               "with --images: print the k most probable classes")
                    ->capture_default_str();
  auto* ep_opt = app.add_option("--episode", img.episode,
                                "with --images: which classifier of the adapted file (default: "
                                "its only one)")
                     ->check(CLI::NonNegativeNumber);
  auto* k_opt = app.add_flag("--keep-going", img.keep_going,
                             "with --images: skip unreadable images (listed on stderr and in the "
                             "JSON) instead of stopping; exit status 3 if any was skipped");
  auto* inv_opt = app.add_flag("--invert", invert,
                               "with --images: invert the images (255 - v), whatever the "
                               "adapted file records");
  auto* noinv_opt = app.add_flag("--no-invert", no_invert,
                                 "with --images: use the images' values as they are, whatever "
                                 "the adapted file records");
  inv_opt->excludes(noinv_opt);
  auto* any_opt = app.add_flag("--any-size", img.choice.any_size,
                               "with --images: accept images of any size, each resized on its own");
  for (auto* o : {t_opt, ep_opt, k_opt, inv_opt, noinv_opt, any_opt}) o->needs(i_opt);
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::parse(app, argc, argv);
  cli::check_blas("fsh-eval", common.verbosity, argv);
  set_threads(common.threads);
  if (!img.inputs.empty()) {
    if (adapted.empty())
      throw usage_error("--images needs --adapted (make one from a folder with fsh-adapt "
                        "--support)");
    if (invert || no_invert) img.choice.invert = invert;
    img.json = json;
    return run_images(tool, adapted, img, common.verbosity);
  }
  if (adapted.empty() == model.empty()) throw usage_error("give exactly one of --adapted or --model");
  if (episodes.empty()) throw usage_error("--episodes is required (or --images with --adapted)");
  if (!bn.empty() && model.empty()) throw usage_error("--bn needs --model (an adapted file's "
                                                      "normalisation is already fixed)");

  const EpisodeSet es = open_episodes(episodes, dataset);
  AdaptedSet a;
  Progress progress(es.count(), model.empty() ? "episode" : "adapting episode",
                    common.verbosity >= 1);
  if (!model.empty()) {
    Checkpoint ck = read_checkpoint(model);
    if (!bn.empty()) ck.model.bn = parse_bn_policy(bn);
    auto method = load_method(ck, model);
    a = adapt_episodes(*method, es, [&](int64_t i) { progress.update(i + 1); });
    progress.clear();
  } else {
    a = read_adapted(adapted);
  }
  Progress progress2(es.count(), "episode", common.verbosity >= 1);
  const Evaluation ev = evaluate_adapted(a, es, !predictions.empty(),
                                         model.empty() ? adapted : model,
                                         [&](int64_t i) { progress2.update(i + 1); });
  progress2.clear();
  if (!predictions.empty()) write_predictions(predictions, ev);
  const MeanCI s = mean_ci95(ev.accuracy);
  const Episodes& e = es.episodes;
  if (json) {
    std::printf("{\"method\":\"%s\",\"bn\":\"%s\",\"episodes\":%ld,\"n_way\":%lld,\"k_shot\":%lld,"
                "\"n_query\":%lld,\"accuracy\":%.6f,\"ci95\":%.6f,\"sd\":%.6f}\n",
                a.model.method.c_str(), to_string(a.model.bn).c_str(), s.n,
                static_cast<long long>(e.n_way), static_cast<long long>(e.k_shot),
                static_cast<long long>(e.n_query), s.mean, s.ci95, s.sd);
  } else if (predictions != "-") {
    std::printf("method\t%s\nbn\t%s statistics\nepisodes\t%ld (%lld-way %lld-shot, %lld queries "
                "per class)\naccuracy\t%.2f%% ± %.2f%% (95%% CI)\n",
                a.model.method.c_str(), to_string(a.model.bn).c_str(), s.n,
                static_cast<long long>(e.n_way), static_cast<long long>(e.k_shot),
                static_cast<long long>(e.n_query), 100 * s.mean, 100 * s.ci95);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-eval", argc, argv, run); }
