// ParamLayout: named views into one flat parameter buffer.
#include "nn/params.hpp"

#include "util/error.hpp"

namespace fsh {

std::size_t ParamLayout::add(const std::string& name, const std::vector<int>& shape) {
  if (contains(name)) throw usage_error("parameter layout: duplicate name '" + name + "'");
  std::size_t n = 1;
  for (int e : shape) {
    if (e <= 0)
      throw usage_error("parameter layout: '" + name + "' has extent " + std::to_string(e) +
                        " (every extent must be >= 1)");
    n *= static_cast<std::size_t>(e);
  }
  views_.push_back(ParamView{name, size_, shape, n});
  size_ += n;
  return views_.back().offset;
}

const ParamView& ParamLayout::at(const std::string& name) const {
  for (const auto& v : views_)
    if (v.name == name) return v;
  std::string known;
  for (const auto& v : views_) known += (known.empty() ? "" : ", ") + v.name;
  throw usage_error("parameter layout: no view named '" + name + "' (known: " + known + ")");
}

bool ParamLayout::contains(const std::string& name) const {
  for (const auto& v : views_)
    if (v.name == name) return true;
  return false;
}

bool ParamLayout::operator==(const ParamLayout& o) const {
  if (views_.size() != o.views_.size() || size_ != o.size_) return false;
  for (std::size_t i = 0; i < views_.size(); ++i) {
    const auto &a = views_[i], &b = o.views_[i];
    if (a.name != b.name || a.offset != b.offset || a.shape != b.shape) return false;
  }
  return true;
}

}  // namespace fsh
