// Adapting to and evaluating whole episode sets (see evaluate.hpp).
#include "methods/evaluate.hpp"

#include <cstdio>
#include <cstring>
#include <variant>

#include "data/fingerprint.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {

// The classifiers of episodes [r.begin, r.end) of es, in order.
AdaptedSet adapt_range(Method& m, const EpisodeSet& es, const EpisodeRange& r,
                       const std::function<void(int64_t)>& tick) {
  const Episodes& e = es.episodes;
  AdaptedSet s;
  s.model = m.config();
  s.n_way = static_cast<int>(e.n_way);
  s.k_shot = e.k_shot;
  s.n_query = e.n_query;
  s.first = e.first;
  s.episodes_seed = e.seed;
  s.dataset_fingerprint = e.dataset_fingerprint;
  s.base = m.base_convolutions();
  for (int64_t i = r.begin; i < r.end; ++i) {
    s.add(m.adapt(to_tensors(es.images(i))));
    if (tick) tick(i - r.begin);
  }
  // The classes' names, when the episodes file has them (fsh-eval --images then prints names).
  if (!e.class_names.empty())
    for (int64_t j = r.begin * e.n_way; j < r.end * e.n_way; ++j)
      s.class_names.push_back(e.class_names.at(std::size_t(e.classes[std::size_t(j)])));
  return s;
}

void hash_i32s(Fnv1a64& h, const std::vector<int32_t>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i)
    for (int k = 0; k < 4; ++k) b[i * 4 + k] = static_cast<uint8_t>(uint32_t(v[i]) >> (8 * k));
  h.update(b.data(), b.size());
}

}  // namespace

AdaptedSet adapt_episodes(Method& m, const EpisodeSet& es,
                          const std::function<void(int64_t)>& tick) {
  return adapt_range(m, es, {0, es.count()}, tick);
}

AdaptedSet adapt_shard(Method& m, const EpisodeSet& es, const Shard& s,
                       const std::function<void(int64_t)>& tick) {
  const EpisodeRange r = shard_range(s, es.count());
  AdaptedSet a = adapt_range(m, es, r, tick);
  a.part = AdaptedShard{s, r.begin, es.count(), episodes_fingerprint(es.episodes),
                        model_fingerprint(m)};
  return a;
}

std::string episodes_fingerprint(const Episodes& e) {
  Fnv1a64 h;
  for (int64_t v : {e.count(), e.n_way, e.k_shot, e.n_query, e.first}) h.update_i64(v);
  h.update_i64(static_cast<int64_t>(e.seed));
  h.update(e.dataset_fingerprint.data(), e.dataset_fingerprint.size());
  hash_i32s(h, e.classes);
  hash_i32s(h, e.support);
  hash_i32s(h, e.query);
  return hex64(h.value());
}

std::string model_fingerprint(const Method& m) {
  const ModelConfig& c = m.config();
  std::string text = c.method + "\n" + to_string(c.bn) + "\n";
  const Conv4Config& b = c.backbone;
  char eps[32];
  std::snprintf(eps, sizeof eps, "%a", b.bn_eps);  // exact
  text += std::to_string(b.in_channels) + " " + std::to_string(b.height) + " " +
          std::to_string(b.width) + " " + std::to_string(b.hidden) + " " +
          std::to_string(b.depth) + " " + eps + "\n";
  for (const auto& [name, value] : c.settings) {
    std::string v;
    if (const double* d = std::get_if<double>(&value)) {
      char x[32];
      std::snprintf(x, sizeof x, "%a", *d);  // exact, unlike the %.10g of to_string
      v = x;
    } else {
      v = to_string(value);
    }
    text += name + "=" + v + "\n";
  }
  Fnv1a64 h;
  h.update(text.data(), text.size());
  const ParamSet<float>& p = m.params();
  std::vector<uint8_t> bytes(p.size() * 4);
  for (std::size_t i = 0; i < p.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, p.values() + i, 4);
    for (int k = 0; k < 4; ++k) bytes[i * 4 + k] = static_cast<uint8_t>(u >> (8 * k));
  }
  h.update(bytes.data(), bytes.size());
  return hex64(h.value());
}

Evaluation evaluate_adapted(const AdaptedSet& a, const EpisodeSet& es, bool keep_predictions,
                            const std::string& where, const std::function<void(int64_t)>& tick,
                            const Shard& shard) {
  const Episodes& e = es.episodes;
  auto mismatch = [&](const std::string& what) {
    throw format_error(where + ": adapted to other episodes than " + es.source + " (" + what +
                       ")");
  };
  const EpisodeRange r = shard_range(shard, e.count());
  if (a.part) {
    const AdaptedShard& p = *a.part;
    if (p.total != e.count())
      mismatch("a shard of " + std::to_string(p.total) + " vs " + std::to_string(e.count()) +
               " episodes");
    if (p.episodes_fingerprint != episodes_fingerprint(e))
      mismatch("episodes fingerprint " + p.episodes_fingerprint + " vs " +
               episodes_fingerprint(e));
    if (!a.range().contains(r)) {
      const bool whole = shard.whole();
      throw format_error(where + ": holds only the classifiers of " +
                         describe_range(a.range(), p.total) + " (fsh-adapt --shard " +
                         to_string(p.shard) + "), not " +
                         (whole ? "all of them" : "those of --shard " + to_string(shard) + ", " +
                                                      describe_range(r, e.count())) +
                         ": score it with --shard " + to_string(p.shard) +
                         ", or merge the parts first (fsh-adapt --merge)");
    }
  } else if (a.count() != e.count()) {
    mismatch(std::to_string(a.count()) + " vs " + std::to_string(e.count()) + " episodes");
  }
  if (a.n_way != e.n_way || a.k_shot != e.k_shot)
    mismatch(std::to_string(a.n_way) + "-way " + std::to_string(a.k_shot) + "-shot vs " +
             std::to_string(e.n_way) + "-way " + std::to_string(e.k_shot) + "-shot");
  if (a.dataset_fingerprint != e.dataset_fingerprint || a.episodes_seed != e.seed ||
      a.first != e.first)
    mismatch("different dataset, seed or first episode");
  Evaluation ev;
  ev.range = r;
  const int64_t offset = a.range().begin;  // episode i of es is episode i - offset of a
  for (int64_t i = r.begin; i < r.end; ++i) {
    const EpisodeTensors t = to_tensors(es.images(i));
    const auto pred = classify(a.model, a.episode(i - offset), t);
    int correct = 0;
    for (std::size_t q = 0; q < pred.size(); ++q) {
      correct += pred[q] == t.query_labels[q];
      if (keep_predictions)
        ev.predictions.push_back({i, static_cast<int64_t>(q),
                                  e.query[std::size_t(i) * e.query_size() + q], t.query_labels[q],
                                  pred[q]});
    }
    ev.correct.push_back(correct);
    ev.accuracy.push_back(episode_accuracy(correct, static_cast<int64_t>(pred.size())));
    if (tick) tick(i - r.begin);
  }
  return ev;
}

}  // namespace fsh
