// Episode sampling and access (see episodes.hpp).
#include "data/episodes.hpp"

#include <algorithm>
#include <cstring>

#include "data/fingerprint.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

namespace fsh {

std::string to_string(PartChoice p) {
  switch (p) {
    case PartChoice::train:
      return "train";
    case PartChoice::val:
      return "val";
    case PartChoice::test:
      return "test";
    default:
      return "all";
  }
}

PartChoice parse_part_choice(const std::string& s) {
  if (s == "all") return PartChoice::all;
  if (s == "train") return PartChoice::train;
  if (s == "val") return PartChoice::val;
  if (s == "test") return PartChoice::test;
  throw usage_error("unknown part \"" + s + "\" (expected train, val, test or all)");
}

namespace {

Part as_part(PartChoice p) {
  switch (p) {
    case PartChoice::train:
      return Part::train;
    case PartChoice::val:
      return Part::val;
    default:
      return Part::test;
  }
}

}  // namespace

EpisodeSampler::EpisodeSampler(const Dataset& d, const SampleOptions& o, const std::string& where,
                               const std::string& fingerprint)
    : d_(d), o_(o), where_(where) {
  if (o.n_way < 1) throw usage_error("N (ways) must be >= 1, got " + std::to_string(o.n_way));
  if (o.k_shot < 1) throw usage_error("K (shots) must be >= 1, got " + std::to_string(o.k_shot));
  if (o.n_query < 0)
    throw usage_error("Q (queries) must be >= 0, got " + std::to_string(o.n_query));

  // The classes episodes may use, in dataset order.
  if (o.part != PartChoice::all && d.class_part.empty())
    throw usage_error(where + ": not a split (fsh-dataset), so it has no part " +
                      to_string(o.part) + "; use --part all or make a split with " +
                      "'fsh-episodes split'");
  for (int64_t c = 0; c < d.n_classes(); ++c) {
    const Part p = d.class_part.empty() ? Part::train : d.class_part[c];
    if (o.part == PartChoice::all ? p != Part::none : p == as_part(o.part))
      eligible_.push_back(static_cast<int32_t>(c));
  }
  const std::string part_words =
      o.part == PartChoice::all ? "classes" : "classes of part " + to_string(o.part);
  if (o.n_way > static_cast<int64_t>(eligible_.size()))
    throw usage_error(where + ": N = " + std::to_string(o.n_way) + " exceeds the " +
                      std::to_string(eligible_.size()) + " " + part_words);

  members_.resize(static_cast<std::size_t>(d.n_classes()));
  for (int64_t i = 0; i < d.size(); ++i) members_[d.labels[i]].push_back(static_cast<int32_t>(i));
  const int64_t per_class = o.k_shot + o.n_query;
  for (int32_t c : eligible_)
    if (static_cast<int64_t>(members_[c].size()) < per_class)
      throw usage_error(where + ": class \"" + d.class_names[c] + "\" has " +
                        std::to_string(members_[c].size()) + " images; K+Q = " +
                        std::to_string(per_class) + " needs at least that many per class");
  fingerprint_ = fingerprint.empty() ? dataset_fingerprint(d) : fingerprint;
}

Episodes EpisodeSampler::draw(int64_t first, int64_t count) const {
  if (count < 1) throw usage_error("count must be >= 1, got " + std::to_string(count));
  if (first < 0) throw usage_error("first must be >= 0, got " + std::to_string(first));
  const SampleOptions& o = o_;
  const int64_t per_class = o.k_shot + o.n_query;
  Episodes e;
  e.n_way = o.n_way;
  e.k_shot = o.k_shot;
  e.n_query = o.n_query;
  e.first = first;
  e.seed = o.seed;
  e.part = o.part;
  e.dataset_fingerprint = fingerprint_;
  e.dataset_size = d_.size();
  e.class_names = d_.class_names;
  e.dataset_path = where_;
  e.height = d_.height;
  e.width = d_.width;
  e.channels = d_.channels;
  e.classes.reserve(static_cast<std::size_t>(count * o.n_way));
  e.support.reserve(static_cast<std::size_t>(count * o.n_way * o.k_shot));
  e.query.reserve(static_cast<std::size_t>(count * o.n_way * o.n_query));
  std::vector<int32_t> query_row;
  for (int64_t ep = first; ep < first + count; ++ep) {
    Rng rng = Rng::stream(o.seed, static_cast<uint64_t>(ep));
    const std::vector<int64_t> picks =
        rng.choose(static_cast<int64_t>(eligible_.size()), o.n_way);
    query_row.clear();
    for (int64_t pick : picks) {
      const int32_t c = eligible_[pick];
      e.classes.push_back(c);
      const auto& m = members_[c];
      const std::vector<int64_t> chosen = rng.choose(static_cast<int64_t>(m.size()), per_class);
      for (int64_t k = 0; k < o.k_shot; ++k) e.support.push_back(m[chosen[k]]);
      for (int64_t q = o.k_shot; q < per_class; ++q) query_row.push_back(m[chosen[q]]);
    }
    e.query.insert(e.query.end(), query_row.begin(), query_row.end());
  }
  return e;
}

Episodes sample_episodes(const Dataset& d, const SampleOptions& o, const std::string& where,
                         const std::string& fingerprint) {
  if (o.count < 1) throw usage_error("count must be >= 1, got " + std::to_string(o.count));
  if (o.first < 0) throw usage_error("first must be >= 0, got " + std::to_string(o.first));
  return EpisodeSampler(d, o, where, fingerprint).draw(o.first, o.count);
}

void embed_images(Episodes& e, const Dataset& d) {
  if (d.size() != e.dataset_size)
    throw usage_error("cannot embed: the dataset has " + std::to_string(d.size()) +
                      " images; the episodes were drawn from one with " +
                      std::to_string(e.dataset_size));
  std::vector<int32_t> used(e.support);
  used.insert(used.end(), e.query.begin(), e.query.end());
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  const int64_t sz = d.image_size();
  e.height = d.height;
  e.width = d.width;
  e.channels = d.channels;
  e.images.resize(used.size() * static_cast<std::size_t>(sz));
  for (std::size_t i = 0; i < used.size(); ++i)
    std::memcpy(e.images.data() + i * sz, d.image(used[i]), static_cast<std::size_t>(sz));
  e.image_index = std::move(used);
}

void check_source(const Episodes& e, const Dataset& d, const std::string& where) {
  const std::string fp = dataset_fingerprint(d);
  if (fp != e.dataset_fingerprint || d.size() != e.dataset_size)
    throw format_error(where + ": not the dataset these episodes were drawn from (its " +
                       "fingerprint is " + fp + " with " + std::to_string(d.size()) +
                       " images; the episodes expect " + e.dataset_fingerprint + " with " +
                       std::to_string(e.dataset_size) + ")");
  // Class-major order: every image of episode class c belongs to dataset class classes[e][c].
  for (int64_t ep = 0; ep < e.count(); ++ep)
    for (int64_t c = 0; c < e.n_way; ++c) {
      const int32_t cls = e.classes[ep * e.n_way + c];
      auto check = [&](const std::vector<int32_t>& v, int64_t per) {
        for (int64_t j = 0; j < per; ++j) {
          const int32_t idx = v[(ep * e.n_way + c) * per + j];
          if (d.labels[idx] != cls)
            throw format_error(where + ": episode " + std::to_string(ep) + " lists image " +
                               std::to_string(idx) + " under class " + std::to_string(cls) +
                               " but its label is " + std::to_string(d.labels[idx]));
        }
      };
      check(e.support, e.k_shot);
      check(e.query, e.n_query);
    }
}

namespace {

void gather(const Episodes& e, const Dataset* d, const int32_t* idx, int64_t n,
            std::vector<uint8_t>& out) {
  const int64_t sz = d ? d->image_size() : e.height * e.width * e.channels;
  out.resize(static_cast<std::size_t>(n * sz));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src;
    if (d) {
      src = d->image(idx[i]);
    } else {
      auto it = std::lower_bound(e.image_index.begin(), e.image_index.end(), idx[i]);
      if (it == e.image_index.end() || *it != idx[i])
        throw format_error("episodes: image " + std::to_string(idx[i]) + " is not embedded");
      src = e.images.data() + (it - e.image_index.begin()) * sz;
    }
    std::memcpy(out.data() + i * sz, src, static_cast<std::size_t>(sz));
  }
}

}  // namespace

EpisodeImages episode_images(const Episodes& e, int64_t i, const Dataset* d) {
  if (i < 0 || i >= e.count())
    throw usage_error("episode " + std::to_string(i) + " does not exist (the file holds " +
                      std::to_string(e.count()) + ": 0.." + std::to_string(e.count() - 1) + ")");
  if (!d && !e.embedded())
    throw usage_error(
        "the episodes do not embed their images: give the dataset they were "
        "drawn from");
  EpisodeImages out;
  out.n_way = e.n_way;
  out.k_shot = e.k_shot;
  out.n_query = e.n_query;
  out.height = d ? d->height : e.height;
  out.width = d ? d->width : e.width;
  out.channels = d ? d->channels : e.channels;
  gather(e, d, e.support.data() + i * e.support_size(), e.support_size(), out.support);
  gather(e, d, e.query.data() + i * e.query_size(), e.query_size(), out.query);
  for (int64_t c = 0; c < e.n_way; ++c) {
    for (int64_t k = 0; k < e.k_shot; ++k) out.support_labels.push_back(static_cast<int32_t>(c));
    for (int64_t q = 0; q < e.n_query; ++q) out.query_labels.push_back(static_cast<int32_t>(c));
  }
  return out;
}

void validate_episodes(const Episodes& e, const std::string& where) {
  auto fail = [&](const std::string& msg) { throw format_error(where + ": " + msg); };
  if (e.n_way < 1 || e.k_shot < 1 || e.n_query < 0)
    fail("bad episode shape N=" + std::to_string(e.n_way) + " K=" + std::to_string(e.k_shot) +
         " Q=" + std::to_string(e.n_query) + " (need N >= 1, K >= 1, Q >= 0)");
  const auto n_ep = static_cast<std::size_t>(e.count());
  if (e.classes.size() != n_ep * e.n_way || e.support.size() != n_ep * e.support_size() ||
      e.query.size() != n_ep * e.query_size())
    fail("support, query and classes do not hold the same number of episodes");
  auto check_range = [&](const std::vector<int32_t>& v, int64_t hi, const char* what) {
    for (int32_t x : v)
      if (x < 0 || x >= hi)
        fail(std::string(what) + " holds " + std::to_string(x) + ", outside [0, " +
             std::to_string(hi) + ")");
  };
  check_range(e.support, e.dataset_size, "support");
  check_range(e.query, e.dataset_size, "query");
  if (!e.class_names.empty())
    check_range(e.classes, static_cast<int64_t>(e.class_names.size()), "classes");
  if (e.embedded()) {
    const int64_t sz = e.height * e.width * e.channels;
    if (sz < 1 || e.images.size() != e.image_index.size() * static_cast<std::size_t>(sz))
      fail("embedded images do not match embedded/index");
    check_range(e.image_index, e.dataset_size, "embedded/index");
    for (std::size_t i = 1; i < e.image_index.size(); ++i)
      if (e.image_index[i] <= e.image_index[i - 1])
        fail("embedded/index is not strictly increasing");
    for (const auto* v : {&e.support, &e.query})
      for (int32_t x : *v)
        if (!std::binary_search(e.image_index.begin(), e.image_index.end(), x))
          fail("image " + std::to_string(x) + " is used but not embedded");
  }
}

}  // namespace fsh
