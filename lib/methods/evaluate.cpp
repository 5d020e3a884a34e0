// Adapting to and evaluating whole episode sets (see evaluate.hpp).
#include "methods/evaluate.hpp"

#include "util/error.hpp"

namespace fsh {

AdaptedSet adapt_episodes(Method& m, const EpisodeSet& es,
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
  for (int64_t i = 0; i < es.count(); ++i) {
    s.add(m.adapt(to_tensors(es.images(i))));
    if (tick) tick(i);
  }
  // The classes' names, when the episodes file has them (fsh-eval --images then prints names).
  if (!e.class_names.empty())
    for (int32_t c : e.classes) s.class_names.push_back(e.class_names.at(std::size_t(c)));
  return s;
}

Evaluation evaluate_adapted(const AdaptedSet& a, const EpisodeSet& es, bool keep_predictions,
                            const std::string& where, const std::function<void(int64_t)>& tick) {
  const Episodes& e = es.episodes;
  auto mismatch = [&](const std::string& what) {
    throw format_error(where + ": adapted to other episodes than " + es.source + " (" + what +
                       ")");
  };
  if (a.count() != e.count())
    mismatch(std::to_string(a.count()) + " vs " + std::to_string(e.count()) + " episodes");
  if (a.n_way != e.n_way || a.k_shot != e.k_shot)
    mismatch(std::to_string(a.n_way) + "-way " + std::to_string(a.k_shot) + "-shot vs " +
             std::to_string(e.n_way) + "-way " + std::to_string(e.k_shot) + "-shot");
  if (a.dataset_fingerprint != e.dataset_fingerprint || a.episodes_seed != e.seed ||
      a.first != e.first)
    mismatch("different dataset, seed or first episode");
  Evaluation ev;
  for (int64_t i = 0; i < e.count(); ++i) {
    const EpisodeTensors t = to_tensors(es.images(i));
    const auto pred = classify(a.model, a.episode(i), t);
    int correct = 0;
    for (std::size_t q = 0; q < pred.size(); ++q) {
      correct += pred[q] == t.query_labels[q];
      if (keep_predictions)
        ev.predictions.push_back({i, static_cast<int64_t>(q),
                                  e.query[std::size_t(i) * e.query_size() + q], t.query_labels[q],
                                  pred[q]});
    }
    ev.accuracy.push_back(pred.empty() ? 0.0 : double(correct) / pred.size());
    if (tick) tick(i);
  }
  return ev;
}

}  // namespace fsh
