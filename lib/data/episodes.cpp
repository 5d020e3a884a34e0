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

  if (o.within_group) {
    // Groups with at least N classes of the part, in group order; the draw picks one uniformly.
    std::vector<std::vector<int32_t>> by_group(d.group_names.size());
    for (int32_t c : eligible_) by_group[static_cast<std::size_t>(d.class_group[c])].push_back(c);
    std::size_t largest = 0;
    for (std::size_t g = 0; g < by_group.size(); ++g) {
      if (by_group[g].size() > by_group[largest].size()) largest = g;
      if (static_cast<int64_t>(by_group[g].size()) >= o.n_way) groups_.push_back(by_group[g]);
    }
    if (groups_.empty())
      throw usage_error(where +
                        ": within-group episodes need a group with N = " + std::to_string(o.n_way) +
                        " " + part_words + "; the largest, \"" + d.group_names[largest] +
                        "\", has " + std::to_string(by_group[largest].size()));
  }

  members_.resize(static_cast<std::size_t>(d.n_classes()));
  for (int64_t i = 0; i < d.size(); ++i) members_[d.labels[i]].push_back(static_cast<int32_t>(i));
  const int64_t per_class = o.k_shot + o.n_query;
  for (int32_t c : eligible_)
    if (static_cast<int64_t>(members_[c].size()) < per_class)
      throw usage_error(
          where + ": class \"" + d.class_names[c] + "\" has " + std::to_string(members_[c].size()) +
          " images; K+Q = " + std::to_string(per_class) + " needs at least that many per class");
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
  e.within_group = o.within_group;
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
    // Within a group, the group is the stream's first draw; otherwise the classes are (so the
    // episodes drawn before within-group sampling existed are unchanged).
    const std::vector<int32_t>& pool =
        o.within_group ? groups_[static_cast<std::size_t>(rng.below(groups_.size()))] : eligible_;
    const std::vector<int64_t> picks = rng.choose(static_cast<int64_t>(pool.size()), o.n_way);
    query_row.clear();
    for (int64_t pick : picks) {
      const int32_t c = pool[static_cast<std::size_t>(pick)];
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

void check_source(const Episodes& e, const std::string& episodes_where, const Dataset& d,
                  const std::string& dataset_where, const std::string& fingerprint) {
  // Identity first: when the fingerprint matches, a size that does not is the episodes file's
  // dataset_size at fault, and it is named as such before any index is judged against it.
  const std::string fp = fingerprint.empty() ? dataset_fingerprint(d) : fingerprint;
  if (fp != e.dataset_fingerprint)
    throw format_error(dataset_where + ": not the dataset the episodes of " + episodes_where +
                       " were drawn from (its fingerprint is " + fp + " with " +
                       std::to_string(d.size()) + " images; the episodes expect " +
                       e.dataset_fingerprint + " with " + std::to_string(e.dataset_size) + ")");
  if (d.size() != e.dataset_size)
    throw format_error(episodes_where + ": dataset_size is " + std::to_string(e.dataset_size) +
                       " but " + dataset_where + ", whose fingerprint it records, has " +
                       std::to_string(d.size()) + " images");
  validate_episodes(e, episodes_where);
  auto fail = [&](const std::string& msg) { throw format_error(episodes_where + ": " + msg); };
  if (!e.class_names.empty() && e.class_names != d.class_names) {
    std::size_t c = 0;
    while (c < e.class_names.size() && c < d.class_names.size() &&
           e.class_names[c] == d.class_names[c])
      ++c;
    fail("class_names differ from those of " + dataset_where + " (" +
         std::to_string(e.class_names.size()) + " names against " +
         std::to_string(d.class_names.size()) + "; first difference at class " + std::to_string(c) +
         ")");
  }
  for (int64_t ep = 0; ep < e.count(); ++ep) {
    for (int64_t c = 0; c < e.n_way; ++c) {
      const int32_t cls = e.classes[ep * e.n_way + c];
      if (cls >= d.n_classes())
        fail("episode " + std::to_string(ep) + " lists class " + std::to_string(cls) + " but " +
             dataset_where + " has " + std::to_string(d.n_classes()) + " classes");
      // Class-major order: every image of episode class c has label classes[ep][c].
      auto check = [&](const std::vector<int32_t>& v, int64_t per) {
        for (int64_t j = 0; j < per; ++j) {
          const int32_t idx = v[(ep * e.n_way + c) * per + j];
          if (d.labels[idx] != cls)
            fail("episode " + std::to_string(ep) + " lists image " + std::to_string(idx) +
                 " under class " + std::to_string(cls) + " but its label in " + dataset_where +
                 " is " + std::to_string(d.labels[idx]));
        }
      };
      check(e.support, e.k_shot);
      check(e.query, e.n_query);
    }
    if (e.within_group)
      for (int64_t c = 1; c < e.n_way; ++c) {
        const int32_t a = e.classes[ep * e.n_way], b = e.classes[ep * e.n_way + c];
        if (d.class_group[a] != d.class_group[b])
          fail("within_group is 1 but episode " + std::to_string(ep) + " has classes of groups \"" +
               d.group_names[d.class_group[a]] + "\" and \"" + d.group_names[d.class_group[b]] +
               "\" of " + dataset_where);
      }
  }
  // Embedded images are copies of dataset rows; with the dataset at hand, they must be equal.
  if (e.embedded()) {
    if (e.height != d.height || e.width != d.width || e.channels != d.channels)
      fail("embedded images are " + std::to_string(e.height) + "x" + std::to_string(e.width) + "x" +
           std::to_string(e.channels) + " but those of " + dataset_where + " are " +
           std::to_string(d.height) + "x" + std::to_string(d.width) + "x" +
           std::to_string(d.channels));
    const int64_t sz = d.image_size();
    for (std::size_t u = 0; u < e.image_index.size(); ++u)
      if (std::memcmp(e.images.data() + u * sz, d.image(e.image_index[u]),
                      static_cast<std::size_t>(sz)) != 0)
        fail("embedded image " + std::to_string(u) + " (dataset index " +
             std::to_string(e.image_index[u]) + ") differs from that image of " + dataset_where);
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
  if (e.dataset_size < 0) fail("dataset_size is " + std::to_string(e.dataset_size));
  // Image indices: a negative one is the index's fault; one at or above dataset_size may be
  // either's, so the message leads with dataset_size and the largest index used.
  int32_t largest = -1;
  const char* largest_in = "";
  for (const auto& [v, name] : {std::pair{&e.support, "/support"}, {&e.query, "/query"}})
    for (int32_t x : *v) {
      if (x < 0) fail(std::string(name) + " holds image index " + std::to_string(x));
      if (x > largest) largest = x, largest_in = name;
    }
  if (largest >= e.dataset_size)
    fail("dataset_size is " + std::to_string(e.dataset_size) + " but " + largest_in +
         " holds image index " + std::to_string(largest) +
         " (every index must be below dataset_size)");
  for (int32_t c : e.classes) {
    if (c < 0) fail("/classes holds class " + std::to_string(c));
    if (!e.class_names.empty() && c >= static_cast<int64_t>(e.class_names.size()))
      fail("/classes holds class " + std::to_string(c) + " but /class_names names " +
           std::to_string(e.class_names.size()));
  }
  // The MUSTs of one episode: N distinct classes; no image twice, support and query together
  // (an image both in the support and the query would leak the answer).
  std::vector<int32_t> cls(static_cast<std::size_t>(e.n_way));
  std::vector<std::pair<int32_t, int>> imgs;  // (index, 0 = support / 1 = query)
  for (int64_t ep = 0; ep < e.count(); ++ep) {
    auto episode = [ep] { return "episode " + std::to_string(ep); };
    cls.assign(e.classes.begin() + ep * e.n_way, e.classes.begin() + (ep + 1) * e.n_way);
    std::sort(cls.begin(), cls.end());
    const auto dup = std::adjacent_find(cls.begin(), cls.end());
    if (dup != cls.end())
      fail(episode() + " lists class " + std::to_string(*dup) +
           " twice (the N classes of an episode must be distinct)");
    imgs.clear();
    for (int64_t j = 0; j < e.support_size(); ++j)
      imgs.emplace_back(e.support[ep * e.support_size() + j], 0);
    for (int64_t j = 0; j < e.query_size(); ++j)
      imgs.emplace_back(e.query[ep * e.query_size() + j], 1);
    std::sort(imgs.begin(), imgs.end());
    for (std::size_t i = 1; i < imgs.size(); ++i)
      if (imgs[i].first == imgs[i - 1].first) {
        const std::string img = "image " + std::to_string(imgs[i].first);
        if (imgs[i].second != imgs[i - 1].second)
          fail(episode() + " uses " + img + " both as support and as query");
        fail(episode() + " uses " + img + " twice in the " +
             (imgs[i].second == 0 ? "support" : "query"));
      }
  }
  if (e.embedded()) {
    const int64_t sz = e.height * e.width * e.channels;
    if (sz < 1 || e.images.size() != e.image_index.size() * static_cast<std::size_t>(sz))
      fail("embedded images do not match embedded/index");
    for (int32_t x : e.image_index)
      if (x < 0 || x >= e.dataset_size)
        fail("/embedded/index holds " + std::to_string(x) +
             ", outside [0, dataset_size = " + std::to_string(e.dataset_size) + ")");
    for (std::size_t i = 1; i < e.image_index.size(); ++i)
      if (e.image_index[i] <= e.image_index[i - 1])
        fail("embedded/index is not strictly increasing");
    for (const auto* v : {&e.support, &e.query})
      for (int32_t x : *v)
        if (!std::binary_search(e.image_index.begin(), e.image_index.end(), x))
          fail("image " + std::to_string(x) + " is used but not embedded");
  }
}

std::string embedded_fingerprint(const Episodes& e) {
  Fnv1a64 h;
  h.update_i64(static_cast<int64_t>(e.image_index.size()));
  h.update_i64(e.height);
  h.update_i64(e.width);
  h.update_i64(e.channels);
  h.update(e.images.data(), e.images.size());
  for (int32_t i : e.image_index) h.update_i32(i);
  return hex64(h.value());
}

}  // namespace fsh
