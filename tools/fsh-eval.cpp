// fsh-eval: scores adapted classifiers (or a model, adapted on the fly) on the query sets of
// episodes: per-episode accuracy, mean ± 95% CI (1.96·sd/√n), as a table or --json; per-query
// predictions as TSV on request. With --adapted it classifies with nothing but that file.
// With --images it classifies image files instead: path, class name, probability, as TSV.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "common/cli.hpp"
#include "eval/predictions.hpp"
#include "eval/shard.hpp"
#include "eval/stats.hpp"
#include "io/info.hpp"
#include "methods/checkpoint.hpp"
#include "methods/evaluate.hpp"
#include "methods/images.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/progress.hpp"
#include "util/shard.hpp"

using namespace fsh;

namespace {

// Text to stdout for "" or "-", else to the file, atomically (util/file.hpp).
void emit(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text << std::flush;
    return;
  }
  write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// Per-query predictions as TSV: to stdout for "-", else atomically.
void write_predictions(const std::string& path, const std::vector<QueryPrediction>& rows) {
  std::ostringstream out;
  out << "episode\tquery\timage\tlabel\tpredicted\tcorrect\n";
  for (const auto& p : rows)
    out << p.episode << '\t' << p.query << '\t' << p.image << '\t' << p.label << '\t'
        << p.predicted << '\t' << (p.label == p.predicted ? 1 : 0) << '\n';
  emit(path, out.str());
}

// The summary of an evaluation: a table, or one JSON object (man 1 fsh-eval, OUTPUT).
std::string summary(const std::string& method, const std::string& bn, int64_t n_way,
                    int64_t k_shot, int64_t n_query, const MeanCI& s, bool json) {
  char b[2048];
  if (json)
    std::snprintf(b, sizeof b,
                  "{\"method\":\"%s\",\"bn\":\"%s\",\"episodes\":%ld,\"n_way\":%lld,\"k_shot\":%lld,"
                  "\"n_query\":%lld,\"accuracy\":%.6f,\"ci95\":%.6f,\"sd\":%.6f}\n",
                  method.c_str(), bn.c_str(), s.n, static_cast<long long>(n_way),
                  static_cast<long long>(k_shot), static_cast<long long>(n_query), s.mean,
                  s.ci95, s.sd);
  else
    std::snprintf(b, sizeof b,
                  "method\t%s\nbn\t%s statistics\nepisodes\t%ld (%lld-way %lld-shot, %lld "
                  "queries per class)\naccuracy\t%.2f%% ± %.2f%% (95%% CI)\n",
                  method.c_str(), bn.c_str(), s.n, static_cast<long long>(n_way),
                  static_cast<long long>(k_shot), static_cast<long long>(n_query),
                  100 * s.mean, 100 * s.ci95);
  return b;
}

// Prints (or writes to `output`) the summary as fsh-eval always has: to stdout unless the
// predictions go there (a JSON summary is printed even then).
void print_summary(const std::string& text, bool json, const std::string& predictions,
                   const std::string& output) {
  if (!output.empty())
    emit(output, text);
  else if (json || predictions != "-")
    std::cout << text << std::flush;
}

// fsh-eval --merge PART...: the summary (and predictions) of one unsharded run from the
// shards' JSON (and predictions TSVs).
int run_merge(const std::vector<std::string>& inputs, bool json, const std::string& predictions,
              const std::string& output) {
  std::vector<EvalShard> parts;
  std::vector<std::vector<PredictionRow>> tsvs;
  std::vector<std::string> part_names, tsv_names;
  // Every input read and checked before anything is written.
  for (const std::string& path : inputs) {
    if (path == "-") throw usage_error("--merge: the parts are files; '-' is not accepted");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw io_error(path + ": cannot open for reading");
    char c = 0;
    while (f.get(c) && std::isspace(static_cast<unsigned char>(c))) {
    }
    if (c == '{') {
      parts.push_back(read_eval_shard(path));
      part_names.push_back(path);
    } else if (c == 'e') {
      tsvs.push_back(read_predictions(path));
      tsv_names.push_back(path);
    } else {
      throw format_error(path + ": neither an fsh-eval shard (JSON of fsh-eval --shard i/n "
                                "--json) nor a predictions TSV (--predictions)");
    }
  }
  if (parts.empty())
    throw usage_error("--merge needs the shards' JSON (fsh-eval --shard i/n --json): only "
                      "predictions TSVs were given");
  if (!tsvs.empty() && predictions.empty())
    throw usage_error("--merge was given predictions TSVs (" + tsv_names[0] +
                      "): name the merged file with --predictions");
  if (tsvs.empty() && !predictions.empty())
    throw usage_error("--predictions with --merge needs the shards' predictions TSVs among "
                      "the parts");
  const EvalShard whole = merge_eval_shards(parts, part_names);
  std::vector<QueryPrediction> rows;
  if (!tsvs.empty())
    for (const PredictionRow& r : merge_prediction_shards(tsvs, tsv_names, whole))
      rows.push_back({r.episode, r.query, r.image, r.label, r.predicted});
  const MeanCI s = mean_ci95(whole.accuracy());
  const std::string text =
      summary(whole.method, whole.bn, whole.n_way, whole.k_shot, whole.n_query, s, json);
  if (!predictions.empty()) write_predictions(predictions, rows);
  print_summary(text, json, predictions, output);
  return 0;
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
               int verbosity, const std::string& output) {
  const AdaptedSet a = read_adapted(adapted);
  if (a.part)
    throw usage_error(adapted + ": a shard of adapted classifiers (fsh-adapt --shard " +
                      to_string(a.part->shard) + "); merge the parts first (fsh-adapt --merge)");
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
  emit(output, out.str());
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
  std::string adapted, model, episodes, dataset, predictions, bn, output, shard_text;
  std::vector<std::string> merge;
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
  app.add_option("-o,--output", output,
                 "write the summary (with --images: the classifications) to this file, "
                 "atomically, instead of stdout");
  auto* sh_opt = app.add_option("--shard", shard_text,
                                "i/n: score only shard i of n (from 0) of the episodes, a "
                                "contiguous block; with --json a partial result for --merge");
  auto* mg_opt = app.add_option("--merge", merge,
                                "the --json results (and --predictions TSVs) of every shard of "
                                "one --shard run: print the one unsharded run's summary")
                     ->expected(1, -1);
  auto* i_opt = app.add_option("--images", img.inputs,
                               "classify these image files (PNG/JPEG), folders of them, or - for "
                               "a list of paths on stdin, with the --adapted classifier: TSV of "
                               "path, class, probability")
                    ->expected(1, -1)
                    ->allow_extra_args(true);
  for (auto* o : {e_opt, m_opt, d_opt, b_opt, p_opt, sh_opt, mg_opt}) i_opt->excludes(o);
  for (auto* o : {a_opt, m_opt, e_opt, d_opt, b_opt, sh_opt}) mg_opt->excludes(o);
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
  if (!output.empty() && !predictions.empty() && output == predictions && output != "-")
    throw usage_error("--output and --predictions name the same file, " + output);
  if (!merge.empty()) return run_merge(merge, json, predictions, output);
  if (!img.inputs.empty()) {
    if (adapted.empty())
      throw usage_error("--images needs --adapted (make one from a folder with fsh-adapt "
                        "--support)");
    if (invert || no_invert) img.choice.invert = invert;
    img.json = json;
    return run_images(tool, adapted, img, common.verbosity, output);
  }
  if (adapted.empty() == model.empty()) throw usage_error("give exactly one of --adapted or --model");
  if (episodes.empty()) throw usage_error("--episodes is required (or --images with --adapted)");
  if (!bn.empty() && model.empty()) throw usage_error("--bn needs --model (an adapted file's "
                                                      "normalisation is already fixed)");
  const std::optional<Shard> shard =
      shard_text.empty() ? std::nullopt : std::optional<Shard>(parse_shard(shard_text));

  const EpisodeSet es = open_episodes(episodes, dataset);
  const EpisodeRange range = shard_range(shard.value_or(Shard{}), es.count());
  AdaptedSet a;
  std::string source;  // what was scored, for a shard's JSON (eval/shard.hpp)
  if (!model.empty()) {
    Checkpoint ck = read_checkpoint(model);
    if (!bn.empty()) ck.model.bn = parse_bn_policy(bn);
    auto method = load_method(ck, model);
    Progress progress(range.size(), "adapting episode", common.verbosity >= 1);
    auto tick = [&](int64_t j) { progress.update(j + 1); };
    a = shard ? adapt_shard(*method, es, *shard, tick) : adapt_episodes(*method, es, tick);
    progress.clear();
    if (shard) source = "model " + a.part->model_fingerprint;
  } else {
    a = read_adapted(adapted);
    if (shard)
      source = a.part ? "model " + a.part->model_fingerprint : "adapted " + adapted_fingerprint(a);
  }
  Progress progress2(range.size(), "episode", common.verbosity >= 1);
  const Evaluation ev = evaluate_adapted(a, es, !predictions.empty(),
                                         model.empty() ? adapted : model,
                                         [&](int64_t j) { progress2.update(j + 1); },
                                         shard.value_or(Shard{}));
  progress2.clear();
  const MeanCI s = mean_ci95(ev.accuracy);
  const Episodes& e = es.episodes;
  std::string text;
  if (shard && json) {
    EvalShard part;
    part.method = a.model.method;
    part.bn = to_string(a.model.bn);
    part.n_way = e.n_way;
    part.k_shot = e.k_shot;
    part.n_query = e.n_query;
    part.shard = *shard;
    part.begin = range.begin;
    part.total = e.count();
    part.episodes_fingerprint = episodes_fingerprint(e);
    part.source = source;
    part.queries = e.query_size();
    part.correct = ev.correct;
    text = eval_shard_json(part);
  } else {
    text = summary(a.model.method, to_string(a.model.bn), e.n_way, e.k_shot, e.n_query, s, json);
    if (shard)
      text += "shard\t" + to_string(*shard) + " (" + describe_range(range, e.count()) + ")\n";
  }
  if (!predictions.empty()) write_predictions(predictions, ev.predictions);
  print_summary(text, json, predictions, output);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-eval", argc, argv, run); }
